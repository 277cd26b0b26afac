// Class 7 of issue 17, no silent wedge: a local-backend checkout whose host holds a commit git refuses to check out
// (a tree entry `.git`, or `..`) can never merge it. Every `pull` round says so, exits non-zero with the cause and
// the fix, and `status` shows it, instead of "up to date" and exit 0 for ever.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, gitOk, md, requireBuild, sandbox } from '../client/env.js';
import { lcInitialize } from '../fixtures/letta-code-local.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { tempDir } from '../helpers/repo.js';
import { expectOneLineFix } from './harness.js';

requireBuild();

const USER = 'git';
const TOKEN = 'wedge-token-5d1e';
const LOCAL = 'agent-local-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

let host: GitHost;
const cleanups: (() => void)[] = [];
beforeAll(async () => {
  host = await startGitHost({ user: USER, token: TOKEN });
});
afterAll(async () => {
  for (const c of cleanups.splice(0)) c();
  await host?.close();
});

/** A commit on the host's main (child of its main) whose tree has a subtree named `name` holding x.md: git accepts
 * the object (no fsck on receive here), and refuses to check it out. */
function plantUncheckoutable(repo: string, name: string): string {
  const g = (args: string[], input?: string) => execFileSync('git', ['--git-dir', host.repoPath(repo), ...args], { input, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'x', GIT_AUTHOR_EMAIL: 'x@x', GIT_COMMITTER_NAME: 'x', GIT_COMMITTER_EMAIL: 'x@x' } }).trim();
  const blob = g(['hash-object', '-w', '--stdin'], md('planted', 'x\n'));
  const inner = g(['mktree'], `100644 blob ${blob}\tx.md\n`);
  const parent = g(['rev-parse', 'refs/heads/main']);
  const base = g(['ls-tree', parent]);
  // mktree refuses these names; write the tree object as git would, entries sorted by name.
  const entries = [...base.split('\n').filter(Boolean).map((l) => { const [meta, n] = l.split('\t'); const [mode, , oid] = meta.split(' '); return { mode, n, oid }; }), { mode: '40000', n: name, oid: inner }];
  entries.sort((a, b) => (a.n + (a.mode === '40000' ? '/' : '') < b.n + (b.mode === '40000' ? '/' : '') ? -1 : 1));
  const body = Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode.replace(/^0+/, '')} ${e.n}\0`), Buffer.from(e.oid, 'hex')])));
  const tmp = path.join(host.root, `tree-${name.replace(/\W/g, '_')}`);
  fs.writeFileSync(tmp, body);
  const tree = g(['hash-object', '-w', '-t', 'tree', '--literally', tmp]);
  const commit = g(['commit-tree', tree, '-p', parent, '-m', `planted ${name}`]);
  g(['update-ref', 'refs/heads/main', commit]);
  return commit;
}

/** A local-backend checkout (Letta Code's layout) set up by init against a fresh repo on the host. */
async function localCheckout() {
  const t = tempDir('lmh-wedge-');
  cleanups.push(t.cleanup);
  const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const dir = path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', LOCAL, 'memory');
  lcInitialize(sb, dir, LOCAL, { 'system/human.md': md('About the human', 'Ada\n') });
  const repo = `wedge/${Math.random().toString(36).slice(2)}/${LOCAL}.git`;
  const url = await host.createRepo(repo);
  expect(cli(sb, ['init', '--yes', '--git-user', USER, '--remote', url], { cwd: dir }).status).toBe(0);
  return { sb, dir, repo };
}

describe('class 7: a host commit that can never be checked out is reported, not "up to date"', () => {
  it.each(['.git', '..', '.GIT'])('a tree entry %j on the host: every pull exits 1 with cause and fix; status shows it', async (name) => {
    const { sb, dir, repo } = await localCheckout();
    const first = cli(sb, ['pull'], { cwd: dir });
    expect(first.status, first.stderr).toBe(0);
    const before = gitOk(sb, dir, ['rev-parse', 'main']);
    const planted = plantUncheckoutable(repo, name);

    for (let round = 0; round < 2; round++) {
      const r = cli(sb, ['pull'], { cwd: dir });
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).not.toMatch(/up to date/);
      expectOneLineFix(r.stderr);
      // The audit before main moves (merge-audit.ts) refuses the tree before git's checkout would.
      expect(r.stderr).toMatch(new RegExp(`main was not moved: .* the host's main ${planted.slice(0, 12)} \\(`));
      expect(r.stderr).toMatch(/fix: .*(remove|rename)/);
      expect(gitOk(sb, dir, ['rev-parse', 'main'])).toBe(before);
    }
    const s = cli(sb, ['status'], { cwd: dir });
    expect(s.stdout).toMatch(new RegExp(`REFUSED .*main was not moved: .* the host's main ${planted.slice(0, 12)} `));
  });

  it('a work tree with uncommitted changes: pull exits 1 saying what to do, status shows it', async () => {
    const { sb, dir, repo } = await localCheckout();
    expect(cli(sb, ['pull'], { cwd: dir }).status).toBe(0);
    // Another machine's commit on the host, and an edit in progress here.
    const other = tempDir('lmh-wedge-other-');
    cleanups.push(other.cleanup);
    execFileSync('git', ['clone', '-q', host.repoPath(repo), other.dir]);
    fs.writeFileSync(path.join(other.dir, 'notes.md'), md('notes', 'from elsewhere\n'));
    execFileSync('git', ['-C', other.dir, '-c', 'user.name=o', '-c', 'user.email=o@o', 'commit', '-qam', 'x', '--allow-empty']);
    execFileSync('git', ['-C', other.dir, 'add', '-A']);
    execFileSync('git', ['-C', other.dir, '-c', 'user.name=o', '-c', 'user.email=o@o', 'commit', '-qm', 'notes']);
    execFileSync('git', ['-C', other.dir, 'push', '-q', 'origin', 'main']);
    fs.writeFileSync(path.join(dir, 'system', 'human.md'), md('About the human', 'being edited\n'));
    const r = cli(sb, ['pull'], { cwd: dir });
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expectOneLineFix(r.stderr);
    expect(r.stderr).toMatch(/not merged: the work tree has uncommitted changes .*\(fix: .*run .*pull again/);
    expect(cli(sb, ['status'], { cwd: dir }).stdout).toMatch(/pull round .*FAILED: .*uncommitted changes/);
  });
});
