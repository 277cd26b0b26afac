// Class 3 of issue 17, fail closed: a hook whose runtime is missing or altered refuses the push, and never runs
// what it finds. A runtime is trusted only if its content hashes to the key in its name, it is owned by this user
// and not writable by group or others, and no component of its path is a symlink; runtime and state dirs are
// created private whatever the umask. The hook is the real shim, running the real built runtime.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRepo } from '../../src/git/git.js';
import { install } from '../../src/install/installer.js';
import { cli, makeCheckout, requireBuild, sandbox } from '../client/env.js';
import { initRepo, sh, tempDir } from '../helpers/repo.js';

requireBuild();

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A repo with our client pre-push (from the built runtime under `<ws>/runtimes`), a bare remote, and a commit. */
async function pushable() {
  const t = tempDir('lmh-failclosed-');
  cleanups.push(t.cleanup);
  const dir = initRepo(path.join(t.dir, 'repo'));
  const remote = path.join(t.dir, 'remote.git');
  sh(t.dir, ['init', '-q', '--bare', '-b', 'main', remote]);
  const repo = await resolveRepo({ cwd: dir });
  const manifest = await install({ repo, role: 'client', hooks: ['pre-push'], config: {}, runtimeBase: path.join(t.dir, 'runtimes') });
  fs.writeFileSync(path.join(dir, 'x.md'), 'x\n');
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', 'x']);
  const push = () => spawnSync('git', ['push', remote, 'main'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LETTA_MEMFS_INTERNAL: '' } });
  const remoteMain = () => spawnSync('git', ['--git-dir', remote, 'rev-parse', '-q', '--verify', 'refs/heads/main'], { encoding: 'utf8' }).stdout.trim();
  return { dir: t.dir, runtime: manifest.runtime!, push, remoteMain };
}

describe('class 3: a pre-push whose runtime cannot be trusted refuses the push and runs none of it', () => {
  it('an intact runtime runs (the baseline: our pre-push itself answers)', async () => {
    const p = await pushable();
    const r = p.push();
    expect(r.stderr).not.toMatch(/not trusted/);
    expect(r.stderr).toMatch(/letta-memfs-hooks: /);
  });

  const CASES: [string, (p: Awaited<ReturnType<typeof pushable>>, marker: string) => void, RegExp][] = [
    ['deleted', (p) => fs.rmSync(p.runtime, { recursive: true }), /is missing/],
    [
      'altered (code appended to the pre-push entry)',
      (p, marker) => fs.appendFileSync(path.join(p.runtime, 'dist', 'runtime', 'pre-push.cjs'), `\nrequire('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`),
      /does not match its name/,
    ],
    [
      'altered (a chunk replaced, same size)',
      (p) => {
        const dir = path.join(p.runtime, 'dist', 'runtime');
        const chunk = fs.readdirSync(dir).find((n) => n.startsWith('chunk-'))!;
        const body = fs.readFileSync(path.join(dir, chunk));
        body[body.length - 1] ^= 1;
        fs.writeFileSync(path.join(dir, chunk), body);
      },
      /does not match its name/,
    ],
    ['a file made group-writable', (p) => fs.chmodSync(path.join(p.runtime, 'dist', 'runtime', 'pre-push.cjs'), 0o664), /writable by group or others/],
    ['its directory made world-writable', (p) => fs.chmodSync(path.join(p.runtime, 'dist'), 0o777), /writable by group or others/],
    [
      'reached through a symlink',
      (p) => {
        fs.renameSync(path.join(p.dir, 'runtimes'), path.join(p.dir, 'elsewhere'));
        fs.symlinkSync(path.join(p.dir, 'elsewhere'), path.join(p.dir, 'runtimes'));
      },
      /runtimes is a symlink/,
    ],
    ['owned by another user', (p) => spawnSync('chown', ['-R', '65534', p.runtime]), /owned by uid 65534/],
  ];

  it.each(CASES)('runtime %s: push refused, main not pushed, nothing of it ran', async (_name, tamper, pattern) => {
    const p = await pushable();
    const marker = path.join(p.dir, 'marker');
    tamper(p, marker);
    const r = p.push();
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/letta-memfs-hooks: push refused: the hook runtime \S+ is not trusted: .+ \(fix: re-run .+ init\)/);
    expect(r.stderr).toMatch(pattern);
    expect(p.remoteMain()).toBe('');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('init replaces an altered runtime, and the push goes through the hook again', async () => {
    const p = await pushable();
    fs.appendFileSync(path.join(p.runtime, 'dist', 'runtime', 'pre-push.cjs'), '\n// altered\n');
    const repo = await resolveRepo({ cwd: path.join(p.dir, 'repo') });
    const { forgetRuntimes } = await import('../../src/install/runtime.js');
    forgetRuntimes();
    await install({ repo, role: 'client', hooks: ['pre-push'], config: {}, runtimeBase: path.join(p.dir, 'runtimes') });
    expect(p.push().stderr).not.toMatch(/not trusted/);
  });
});

describe('class 3: runtime and state dirs are private whatever the umask', () => {
  it('init under umask 000 creates every runtime level and the state dir 0700', async () => {
    const t = tempDir('lmh-umask-');
    cleanups.push(t.cleanup);
    const sb = sandbox(t.dir, { XDG_DATA_HOME: path.join(t.dir, 'data'), LETTA_MEMFS_GIT_TOKEN: 'umask-token-1' });
    const checkout = makeCheckout(sb, path.join(t.dir, 'checkout'));
    const old = process.umask(0);
    let r;
    try {
      r = cli(sb, ['init', '--yes', '--no-verify', '--letta-url', 'http://127.0.0.1:9', '--remote', 'https://git.example.com/agents/{agentId}.git'], { cwd: checkout });
    } finally {
      process.umask(old);
    }
    expect(r.status, r.stderr).toBe(0);
    const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);
    const base = path.join(t.dir, 'data', 'letta-memfs-hooks');
    const runtime = fs.readdirSync(path.join(base, 'runtime')).map((n) => path.join(base, 'runtime', n))[0];
    for (const d of [path.join(t.dir, 'data'), base, path.join(base, 'runtime'), runtime, path.join(runtime, 'dist'), path.join(runtime, 'dist', 'runtime'), path.join(runtime, 'hooks')]) {
      expect([d, mode(d)]).toEqual([d, '700']);
    }
    expect(mode(path.join(checkout, '.git', 'letta-memfs'))).toBe('700');
  });
});
