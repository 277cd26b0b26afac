import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRepo } from '../../src/git/git.js';
import { install, uninstall } from '../../src/install/installer.js';
import { initRepo, sh, snapshot, tempDir } from '../helpers/repo.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function workspace() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

function writeHook(file: string, body: string) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
}

const LOGGING_HOOK = (log: string, name: string) =>
  `#!/bin/sh\nprintf '%s|%s|%s\\n' "${name}" "$(basename "$0")" "$*" >> '${log}'\ncat >> '${log}'\n`;

describe('hook installer', () => {
  it('chains a foreign hook with the same arguments and stdin, then restores it byte for byte', async () => {
    const ws = workspace();
    const repoDir = initRepo(path.join(ws, 'repo'));
    const log = path.join(ws, 'log');
    writeHook(path.join(repoDir, '.git/hooks/pre-push'), LOGGING_HOOK(log, 'theirs'));
    writeHook(path.join(repoDir, '.git/hooks/post-merge'), `#!/usr/bin/env python3\nopen('${log}','a').write('py-post-merge\\n')\n`);
    sh(repoDir, ['config', 'user.name', 'Someone']);
    const before = { hooks: snapshot(path.join(repoDir, '.git/hooks')), config: fs.readFileSync(path.join(repoDir, '.git/config')) };

    const repo = await resolveRepo({ cwd: repoDir });
    await install({
      repo,
      role: 'client',
      hooks: ['pre-push', 'post-merge'],
      config: { 'url.https://ext.example/a.git.insteadOf': ['http://letta/v1/git/a/state.git'], 'gc.auto': ['0'] },
    });
    expect(fs.readFileSync(path.join(repoDir, '.git/hooks/pre-push'), 'utf8')).toContain('letta-memfs-hooks managed hook');
    expect(sh(repoDir, ['config', 'url.https://ext.example/a.git.insteadOf'])).toBe('http://letta/v1/git/a/state.git');

    // git runs pre-push with <remote> <url> and refs on stdin; the foreign hook must see exactly that, under its name.
    const bare = path.join(ws, 'bare.git');
    sh(ws, ['init', '-q', '--bare', bare]);
    sh(repoDir, ['push', '-q', bare, 'main'], { env: { LETTA_MEMFS_HOOKS: '0' } });
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(`theirs|pre-push|${bare} ${bare}`);
    expect(lines[1]).toMatch(/^refs\/heads\/main [0-9a-f]{40} refs\/heads\/main 0{40}$/);

    // A hook with another interpreter is executed rather than sourced.
    sh(repoDir, ['merge', '-q', '--ff-only', 'main']);
    fs.writeFileSync(path.join(repoDir, 'f'), 'y');
    sh(repoDir, ['checkout', '-q', '-b', 'side']);
    sh(repoDir, ['add', 'f']);
    sh(repoDir, ['commit', '-q', '-m', 'side']);
    sh(repoDir, ['checkout', '-q', 'main']);
    sh(repoDir, ['merge', '-q', 'side']);
    expect(fs.readFileSync(log, 'utf8')).toContain('py-post-merge');

    const report = await uninstall(repo);
    expect(report.restoredHooks.sort()).toEqual(['post-merge', 'pre-push']);
    expect(report.configRestoredExactly).toBe(true);
    expect(snapshot(path.join(repoDir, '.git/hooks'))).toEqual(before.hooks);
    expect(fs.readFileSync(path.join(repoDir, '.git/config'))).toEqual(before.config);
    expect(fs.existsSync(path.join(repoDir, '.git/letta-memfs'))).toBe(false);
  });

  it('installs into an existing core.hooksPath without changing it, keeping husky-style $0 lookups working', async () => {
    const ws = workspace();
    const repoDir = initRepo(path.join(ws, 'repo'));
    const log = path.join(ws, 'log');
    // husky 9: .husky/_/<hook> sources .husky/_/h, which runs .husky/<basename $0>.
    writeHook(path.join(repoDir, '.husky/_/h'), `#!/usr/bin/env sh\nn=$(basename "$0")\ns=$(dirname "$(dirname "$0")")/$n\n[ -f "$s" ] || exit 0\nsh -e "$s" "$@"\n`);
    writeHook(path.join(repoDir, '.husky/_/post-merge'), `#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n`);
    writeHook(path.join(repoDir, '.husky/post-merge'), `echo "husky-user-post-merge $*" >> '${log}'\n`);
    sh(repoDir, ['config', 'core.hooksPath', '.husky/_']);
    const before = snapshot(path.join(repoDir, '.husky'));
    const configBefore = fs.readFileSync(path.join(repoDir, '.git/config'));

    const repo = await resolveRepo({ cwd: repoDir });
    const manifest = await install({ repo, role: 'client', hooks: ['post-merge'], config: {} });
    expect(manifest.hooksDir).toBe(path.join(repoDir, '.husky/_'));
    expect(sh(repoDir, ['config', 'core.hooksPath'])).toBe('.husky/_');

    sh(repoDir, ['checkout', '-q', '-b', 'side']);
    fs.writeFileSync(path.join(repoDir, 'g'), 'z');
    sh(repoDir, ['add', 'g']);
    sh(repoDir, ['commit', '-q', '-m', 'g']);
    sh(repoDir, ['checkout', '-q', 'main']);
    sh(repoDir, ['merge', '-q', 'side']);
    expect(fs.readFileSync(log, 'utf8')).toContain('husky-user-post-merge 0');
    // Ours ran too: the client post-merge notes the pull for `status`.
    expect(fs.existsSync(path.join(repo.commonDir, 'letta-memfs', 'last-post-merge'))).toBe(true);

    await uninstall(repo);
    expect(snapshot(path.join(repoDir, '.husky'))).toEqual(before);
    expect(fs.readFileSync(path.join(repoDir, '.git/config'))).toEqual(configBefore);
  });

  it('never installs pre-commit or post-commit, which Letta Code rewrites', async () => {
    const ws = workspace();
    const repo = await resolveRepo({ cwd: initRepo(path.join(ws, 'repo')) });
    await expect(install({ repo, role: 'client', hooks: ['pre-commit'], config: {} })).rejects.toThrow(/Letta Code owns it/);
  });

  it('puts linked worktrees under the common hooks dir; with node gone a hook uses node on PATH, with its runtime gone it warns in one line without failing git', async () => {
    const ws = workspace();
    const repoDir = initRepo(path.join(ws, 'repo'));
    sh(repoDir, ['worktree', 'add', '-q', path.join(ws, 'wt'), '-b', 'wt']);
    const repo = await resolveRepo({ cwd: path.join(ws, 'wt') });
    // A runtime of its own: deleting the shared one would fail other files' hooks running at the same time (closed).
    const manifest = await install({ repo, role: 'server', hooks: ['post-checkout'], config: {}, node: path.join(ws, 'no-node'), runtimeBase: path.join(ws, 'runtimes') });
    expect(manifest.hooksDir).toBe(path.join(repoDir, '.git', 'hooks'));
    const checkout = (branch: string) =>
      execFileSync('sh', ['-c', `git checkout -q -b ${branch} 2>&1; echo "exit=$?"`], { cwd: path.join(ws, 'wt'), encoding: 'utf8' });
    // The hook ran in node (found on PATH): it read the repo and found no settings, which only init writes.
    expect(checkout('other')).toMatch(/^letta-memfs-hooks: post-checkout: this repo has no settings \(fix: re-run .+ init\)\nexit=0\n$/);
    fs.rmSync(manifest.runtime!, { recursive: true });
    expect(checkout('third')).toMatch(/^letta-memfs-hooks: post-checkout not run: the hook runtime \S+ is not trusted: \S+ is missing \(fix: re-run .+ init\)\nexit=0\n$/);
  });

  it('is idempotent: a second install changes no hook and no config byte', async () => {
    const ws = workspace();
    const repoDir = initRepo(path.join(ws, 'repo'));
    writeHook(path.join(repoDir, '.git/hooks/pre-push'), '#!/bin/sh\nexit 0\n');
    const repo = await resolveRepo({ cwd: repoDir });
    const opts = { repo, role: 'client' as const, hooks: ['pre-push'], config: { 'gc.auto': ['0'] } };
    await install(opts);
    const once = { hooks: snapshot(path.join(repoDir, '.git')), };
    await install(opts);
    expect(snapshot(path.join(repoDir, '.git'))).toEqual(once.hooks);
    const chained = fs.readFileSync(path.join(repoDir, '.git/letta-memfs/chained/pre-push'), 'utf8');
    expect(chained).toBe('#!/bin/sh\nexit 0\n');
  });
});
