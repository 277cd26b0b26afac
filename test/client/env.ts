/**
 * Shared pieces of the client suites: a hermetic environment (temp HOME, no system/global git config, no inherited
 * LETTA_* or GIT_* variables), the built CLI as a real process, git called exactly as Letta Code calls it, and a git
 * wrapper that records every git argv so tests can prove a secret never reached one.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { basicAuth, startGitHost, type GitHost } from '../fixtures/git-host.js';
import { tempDir } from '../helpers/repo.js';
import { bundleFresh } from '../../scripts/runtime-inputs.mjs';
import { CLI } from '../helpers/cli.js';

export { snapshot, tempDir } from '../helpers/repo.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export { CLI } from '../helpers/cli.js';

export const AGENT = 'agent-123e4567-e89b-42d3-a456-426614174000';
export const AGENT2 = 'agent-223e4567-e89b-42d3-a456-426614174001';
export const LETTA_KEY = 'sk-let-test-LETTA-API-KEY-0123456789';
/** Where the Letta server would be; nothing listens there, so any request that reaches it fails. */
export const LETTA_BASE = 'http://127.0.0.1:9';

export function lettaUrl(agent = AGENT, base = LETTA_BASE): string {
  return `${base}/v1/git/${agent}/state.git`;
}

/** Fails loudly when the bundle is missing or older than src/: the hooks run it, so a stale one would prove nothing. */
export function requireBuild(): void {
  if (!bundleFresh()) throw new Error('dist/runtime is missing or older than src/: run the tests through vitest (test/runtime-setup.ts rebuilds it) or npm run build');
}

const REAL_GIT = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

export interface Sandbox {
  home: string;
  /** File that the git wrapper appends every git argv to (NUL-separated args, one invocation per line). */
  argvLog: string;
  env: NodeJS.ProcessEnv;
}

/** A temp HOME with an empty global git config and a `git` wrapper first on PATH that logs argv. */
export function sandbox(dir: string, extra: Record<string, string> = {}): Sandbox {
  const home = path.join(dir, 'home');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(bin, { recursive: true });
  const argvLog = path.join(dir, 'git-argv.log');
  fs.writeFileSync(argvLog, '');
  fs.writeFileSync(
    path.join(bin, 'git'),
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\t' "$a"; done >> '${argvLog}'\necho >> '${argvLog}'\nexec '${REAL_GIT}' "$@"\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(home, '.gitconfig'), '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GIT_') || k.startsWith('LETTA_') || k === 'XDG_CONFIG_HOME') continue;
    env[k] = v;
  }
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    PATH: `${bin}:${process.env.PATH}`,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'),
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Tester',
    GIT_AUTHOR_EMAIL: 'tester@example.invalid',
    GIT_COMMITTER_NAME: 'Tester',
    GIT_COMMITTER_EMAIL: 'tester@example.invalid',
    ...extra,
  });
  return { home, argvLog, env };
}

/** A machine running a Letta Code local-backend agent: its sandbox and the agent's memory checkout under its HOME. */
export interface LocalMachine {
  sb: Sandbox;
  dir: string;
}

export function localMachine(root: string, name: string, agentId: string, token: string): LocalMachine {
  const sb = sandbox(path.join(root, name), { LETTA_MEMFS_GIT_TOKEN: token });
  return { sb, dir: path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', agentId, 'memory') };
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function done(r: SpawnSyncReturns<string>): Run {
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The built CLI as a real process. */
export function cli(sb: Sandbox, args: string[], opts: { cwd: string; env?: Record<string, string | undefined> }): Run {
  requireBuild();
  return done(spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...sb.env, ...opts.env }, encoding: 'utf8' }));
}

/** Plain git (through the argv-logging wrapper). */
export function git(sb: Sandbox, cwd: string, args: string[], env: Record<string, string | undefined> = {}): Run {
  return done(spawnSync('git', args, { cwd, env: { ...sb.env, ...env }, encoding: 'utf8' }));
}

export function gitOk(sb: Sandbox, cwd: string, args: string[], env: Record<string, string | undefined> = {}): string {
  const r = git(sb, cwd, args, env);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * git as Letta Code >= 0.24.5 runs it: the Letta API key as an unscoped Basic header, credential helpers and askpass
 * cleared, no prompts (letta-code src/agent/memory-git.ts @ v0.30.28, runGit).
 */
export function lettaGit(sb: Sandbox, cwd: string, args: string[], key = LETTA_KEY): Run {
  return git(sb, cwd, ['-c', `http.extraHeader=Authorization: ${basicAuth('letta', key)}`, '-c', 'credential.helper=', '-c', 'core.askPass=', ...args]);
}

/** A memory checkout as Letta Code leaves it after its clone: branch main tracking origin (the Letta URL), letta.agentId set. */
export function makeCheckout(sb: Sandbox, dir: string, agent = AGENT, origin = lettaUrl(agent)): string {
  fs.mkdirSync(dir, { recursive: true });
  gitOk(sb, dir, ['init', '-q', '-b', 'main']);
  gitOk(sb, dir, ['remote', 'add', 'origin', origin]);
  gitOk(sb, dir, ['config', 'letta.agentId', agent]);
  // What `git clone` sets, and what Letta Code's plain `git pull` relies on.
  gitOk(sb, dir, ['config', 'branch.main.remote', 'origin']);
  gitOk(sb, dir, ['config', 'branch.main.merge', 'refs/heads/main']);
  return dir;
}

export function writeFile(dir: string, rel: string, content: string | Buffer): void {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}

export function commitAll(sb: Sandbox, dir: string, message: string): string {
  gitOk(sb, dir, ['add', '-A']);
  gitOk(sb, dir, ['commit', '-q', '-m', message]);
  return gitOk(sb, dir, ['rev-parse', 'HEAD']);
}

export const md = (description: string, body: string, extra = '') => `---\ndescription: ${description}\n${extra}---\n${body}`;

/** Every form in which a token could leak: itself, and base64 of user:token as a Basic header carries it. */
export function secretForms(user: string, token: string): string[] {
  return [token, Buffer.from(`${user}:${token}`).toString('base64')];
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), answering each prompt when it appears; returns everything
 * the terminal showed. Throws if `script` is missing: the interactive path must not go untested silently.
 */
export async function cliOnTty(sb: Sandbox, args: string[], cwd: string, answers: [RegExp, string][], env: Record<string, string | undefined> = {}): Promise<{ status: number; screen: string }> {
  requireBuild();
  const { spawn } = await import('node:child_process');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: { ...sb.env, ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let next = 0;
  const onData = (c: Buffer) => {
    screen += c.toString();
    while (next < answers.length && answers[next][0].test(screen)) {
      child.stdin.write(answers[next][1] + '\r');
      next++;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const status = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit on the terminal; screen so far: ${JSON.stringify(screen)}`));
    }, 30_000);
    child.once('error', (e) => reject(new Error(`cannot run script(1) for a pseudo-terminal: ${e.message} (install util-linux)`)));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
  return { status, screen };
}

export interface Suite {
  /** The file's git host (started before its first test). */
  readonly host: GitHost;
  /** A temp dir removed after the current test. */
  workspace(prefix?: string): string;
}

/** Per test file: the build required, one git host for the whole file, temp workspaces removed after each test. */
export function clientSuite(user: string, token: string): Suite {
  let host: GitHost | undefined;
  const cleanups: (() => void)[] = [];
  beforeAll(async () => {
    requireBuild();
    host = await startGitHost({ user, token });
  });
  afterAll(async () => host?.close());
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  return {
    get host() {
      if (!host) throw new Error('the git host is not started (use it inside a test)');
      return host;
    },
    workspace(prefix = 'lmh-client-') {
      const t = tempDir(prefix);
      cleanups.push(t.cleanup);
      return t.dir;
    },
  };
}

/** `init` as a script runs it: no prompts, the Letta base the checkouts use, the given remote (templated). */
export function initCheckout(sb: Sandbox, checkout: string, user: string, remote: string, args: string[] = [], env: Record<string, string | undefined> = {}): Run {
  return cli(sb, ['init', '--yes', '--git-user', user, '--letta-url', LETTA_BASE, '--remote', remote, ...args], { cwd: checkout, env });
}

/** The CLI without blocking this process: a double serving from this event loop (an API host) keeps answering. */
export function cliAsync(sb: Sandbox, args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
