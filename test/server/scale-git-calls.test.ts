/**
 * `init --server` and `uninstall --server` at scale: the git processes they start do not grow with the number of
 * agents (three per agent made a first init over 10,000 agents take 12 minutes), and what they do is unchanged:
 * hooks go where core.hooksPath says, the remote-tracking ref goes away on uninstall.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { snapshot } from '../helpers/repo.js';
import { type Harness, makeHarness } from './harness.js';

let harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

async function harness(agents: number) {
  const h = await makeHarness();
  harnesses.push(h);
  const repos = [];
  for (let i = 0; i < agents; i++) repos.push(await h.addAgent());
  return { h, repos };
}

/** A `git` first on PATH that logs each call's arguments, then runs the real git. */
function countingGit(dir: string): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const bin = path.join(dir, 'bin');
  const log = path.join(dir, 'git-calls.log');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'git'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  return { env: { PATH: `${bin}:${process.env.PATH}` }, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

const init = (h: Harness, env: NodeJS.ProcessEnv = {}) =>
  runCli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url], { cwd: h.root, env });

const git = (gitDir: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync('git', [`--git-dir=${gitDir}`, ...args], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();

it('a first init --server starts as many git processes for 6 agents as for 2, and sets every repo up', async () => {
  const counts = [];
  for (const n of [2, 6]) {
    const { h, repos } = await harness(n);
    const counter = countingGit(h.root);
    const r = init(h, counter.env);
    expect(r.code, r.err).toBe(0);
    counts.push(counter.calls().length);
    for (const a of repos) {
      expect(git(a.gitDir, ['config', '--get-all', 'include.path'])).toBe('letta-memfs/config');
      expect(git(a.gitDir, ['config', 'remote.letta-memfs.url'])).toBe(h.extPath(a.agentId));
      expect(fs.statSync(path.join(a.gitDir, 'hooks', 'reference-transaction')).mode & 0o111).not.toBe(0);
    }
  }
  expect(counts[1]).toBe(counts[0]);
});

it('installs where core.hooksPath points, whether the repo or the user config sets it', async () => {
  const { h, repos } = await harness(3);
  // One repo sets its own hooksPath; the others use repo.git/hooks.
  git(repos[0].gitDir, ['config', 'core.hooksPath', 'own-hooks']);
  const r = init(h);
  expect(r.code, r.err).toBe(0);
  expect(fs.existsSync(path.join(repos[0].gitDir, 'own-hooks', 'reference-transaction'))).toBe(true);
  expect(fs.existsSync(path.join(repos[0].gitDir, 'hooks', 'reference-transaction'))).toBe(false);
  expect(fs.existsSync(path.join(repos[1].gitDir, 'hooks', 'reference-transaction'))).toBe(true);

  // A user-level hooksPath applies to every repo: each is asked of git then, as before.
  const { h: h2, repos: repos2 } = await harness(2);
  const globalConfig = path.join(h2.root, 'gitconfig');
  fs.writeFileSync(globalConfig, '[core]\n\thooksPath = user-hooks\n');
  const r2 = init(h2, { GIT_CONFIG_GLOBAL: globalConfig });
  expect(r2.code, r2.err).toBe(0);
  for (const a of repos2) {
    expect(fs.existsSync(path.join(a.gitDir, 'user-hooks', 'reference-transaction'))).toBe(true);
    expect(fs.existsSync(path.join(a.gitDir, 'hooks', 'reference-transaction'))).toBe(false);
  }
});

it('uninstall --server deletes the remote-tracking ref, loose or packed, and starts git only for agents that have one', async () => {
  const { h, repos } = await harness(3);
  const before = snapshot(repos[2].gitDir);
  expect(init(h).code).toBe(0);
  for (const a of repos.slice(0, 2)) {
    execFileSync('git', ['--git-dir', h.extPath(a.agentId), 'fetch', '-q', a.gitDir, 'main:main']);
    git(a.gitDir, ['fetch', '-q', 'letta-memfs']);
  }
  git(repos[1].gitDir, ['pack-refs', '--all']);
  expect(git(repos[1].gitDir, ['show-ref', 'refs/remotes/letta-memfs/main'])).toMatch(/^[0-9a-f]{40} /);
  const counter = countingGit(h.root);
  const r = runCli(['uninstall', '--server', '--all', '--memfs-root', h.memfsRoot], { cwd: h.root, env: counter.env });
  expect(r.code, r.err).toBe(0);
  for (const a of repos.slice(0, 2)) expect(() => git(a.gitDir, ['show-ref', '--verify', '-q', 'refs/remotes/letta-memfs/main'])).toThrow();
  expect(snapshot(repos[2].gitDir)).toEqual(before);
  expect(counter.calls().filter((c) => c.startsWith('--git-dir') && c.includes('update-ref'))).toHaveLength(2);
});
