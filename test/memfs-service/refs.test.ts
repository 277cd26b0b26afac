// Refs and history through serve: only refs/heads/main can be pushed (Letta Code pushes nothing else), every new
// blob of a push is checked (not only the last tree), a planted conflict ref never reads as ours in
// `status --server`, and no push quarantine (objects/tmp_objdir-incoming-*) outlives a refused or killed push.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockKey } from '../../src/server/letta/redis-lock.js';
import { runCli } from '../helpers/cli.js';
import { sh, tempDir } from '../helpers/repo.js';
import { cloneNewAgent, gitClient, memfsFile, startService, type Service, waitForLog } from './fixture.js';

let svc: Service;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-refs-');
  // Letta's Redis: a held commit lock keeps a push's receive-pack (and its quarantine) waiting in our pre-receive.
  svc = await startService({ args: ['--max-body-mb', '16'], env: { LETTA_REDIS_HOST: '127.0.0.1', LETTA_REDIS_PORT: '6379' } });
});
afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

const setup = () => cloneNewAgent(svc, work.dir);

function commit(dir: string, file: string, content: string | Buffer | null): string {
  if (content === null) sh(dir, ['rm', '-q', file]);
  else {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
    sh(dir, ['add', '-A']);
  }
  sh(dir, ['commit', '-q', '-m', `change ${file}`]);
  return sh(dir, ['rev-parse', 'HEAD']);
}

const redis = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', ...args], { encoding: 'utf8' }).trim();
const refsOf = (gitDir: string) => sh(gitDir, ['--git-dir', gitDir, 'for-each-ref', '--format=%(refname)']).split('\n').filter(Boolean);
const quarantinesOf = (gitDir: string) => fs.readdirSync(path.join(gitDir, 'objects')).filter((d) => d.startsWith('tmp_objdir-incoming-'));

describe('serve: refs', () => {
  it('refs other than refs/heads/main are refused, alone or next to a good main; nothing but main exists after', async () => {
    const { gitDir, dir } = await setup();
    const before = refsOf(gitDir);
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, again'));
    const main = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
    for (const ref of ['refs/heads/HEAD', 'refs/remotes/origin/main', 'refs/letta-memfs/conflicts/20250101T000000Z-0123456789ab', 'refs/tags/v1', 'refs/heads/letta/reflection/x', 'refs/heads/other', 'refs/notes/commits']) {
      const r = await gitClient(dir, ['push', 'origin', `HEAD:${ref}`]);
      expect(r.code, ref).not.toBe(0);
      expect(r.err).toContain(`remote: letta-memfs-hooks: push refused: ${ref}: only refs/heads/main can be pushed to the Letta server (fix: push main (git push origin HEAD:main))`);
    }
    const both = await gitClient(dir, ['push', 'origin', 'HEAD:main', 'HEAD:refs/heads/HEAD']);
    expect(both.code).not.toBe(0);
    expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main'])).toBe(main);
    expect(refsOf(gitDir)).toEqual(before);
    const ok = await gitClient(dir, ['push', 'origin', 'HEAD:main']);
    expect(ok.code, ok.err).toBe(0);
    expect(quarantinesOf(gitDir)).toEqual([]);
  });

  it('a conflict ref nobody recorded shows as UNKNOWN REF in status --server, never as a conflict to merge', async () => {
    const { gitDir, agent } = await setup();
    const ref = 'refs/letta-memfs/conflicts/20250101T000000Z-0123456789ab';
    sh(gitDir, ['--git-dir', gitDir, 'update-ref', ref, 'main']);
    const r = runCli(['status', '--server', '--memfs-root', svc.root, '--agent', agent], { cwd: work.dir });
    expect(r.out + r.err).not.toMatch(/CONFLICT|merge what you need/);
    expect(r.out).toContain(`UNKNOWN REF   ${ref}: not a conflict letta-memfs-hooks recorded; do not merge it`);
    expect(r.code).toBe(1);
  });
});

describe('serve: every new object of a push', () => {
  it('a binary or oversized file added in one commit and removed in the next is refused; nothing of it stays', async () => {
    const { gitDir, dir } = await setup();
    const before = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
    const bin = commit(dir, 'notes/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]));
    commit(dir, 'notes/logo.png', null);
    commit(dir, 'notes/big.md', memfsFile('big', 'x'.repeat(6 * 1024 * 1024)));
    commit(dir, 'notes/big.md', null);
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, clean tip'));
    const r = await gitClient(dir, ['push', 'origin', 'main']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/logo\.png: is a binary file \(contains NUL bytes\) in a commit of this push \(fix: drop it from every commit/);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/big\.md: is 6\.0 MiB in a commit of this push, over the 5\.0 MiB limit/);
    expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main'])).toBe(before);
    expect(() => sh(gitDir, ['--git-dir', gitDir, 'cat-file', '-e', bin])).toThrow();
    expect(quarantinesOf(gitDir)).toEqual([]);
  });
});

describe('serve: push quarantines', () => {
  it("a receive-pack killed with SIGKILL leaves no quarantine dir; maintain removes a stale one and keeps a fresh one", async () => {
    const { gitDir, dir, agent } = await setup();
    // "Letta" holds its commit lock, so the push waits in our pre-receive with its quarantine: SIGKILL its git.
    commit(dir, 'system/human.md', memfsFile('About the human', 'Ada, killed'));
    expect(redis('SET', lockKey(agent), 'commit:held-by-letta', 'NX', 'PX', '60000')).toBe('OK');
    const pushing = gitClient(dir, ['push', 'origin', 'main']);
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      await new Promise((r) => setTimeout(r, 25));
      if (quarantinesOf(gitDir).length === 0) continue;
      const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
      pid = Number(ps.split('\n').find((l) => l.includes(`receive-pack --stateless-rpc ${gitDir}`))?.trim().split(/\s+/)[0]) || undefined;
    }
    expect(pid, 'receive-pack with a quarantine dir was never seen').toBeDefined();
    process.kill(pid!, 'SIGKILL');
    expect((await pushing).code).not.toBe(0);
    redis('DEL', lockKey(agent));
    for (let i = 0; i < 100 && quarantinesOf(gitDir).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(quarantinesOf(gitDir)).toEqual([]);
    // serve logs the removal once it is done: the dir can be gone a moment before the line arrives.
    await waitForLog(svc, new RegExp(`${agent}: removed 1 push quarantine dir\\(s\\) left by a killed git`));

    // Left by a serve that was itself killed: maintain removes those unchanged for over a day, not a fresh one.
    const stale = path.join(gitDir, 'objects', 'tmp_objdir-incoming-AAAAAA');
    const fresh = path.join(gitDir, 'objects', 'tmp_objdir-incoming-BBBBBB');
    for (const d of [stale, fresh]) fs.mkdirSync(path.join(d, 'pack'), { recursive: true });
    const old = new Date(Date.now() - 25 * 3600 * 1000);
    fs.utimesSync(path.join(stale, 'pack'), old, old);
    fs.utimesSync(stale, old, old);
    const dry = runCli(['maintain', '--memfs-root', svc.root, '--agent', agent, '--dry-run'], { cwd: work.dir });
    expect(dry.out + dry.err).toContain('would remove 1 stale push quarantine dir(s)');
    expect(fs.existsSync(stale)).toBe(true);
    const m = runCli(['maintain', '--memfs-root', svc.root, '--agent', agent], { cwd: work.dir });
    expect(m.code, m.out + m.err).toBe(0);
    expect(m.out + m.err).toContain('removed 1 stale push quarantine dir(s)');
    expect(quarantinesOf(gitDir)).toEqual(['tmp_objdir-incoming-BBBBBB']);
  });
});
