import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { UserError } from '../core/errors.js';

/** A fetch or push that hangs (a dead host) must not stall a daemon's other agents. */
export const NETWORK_TIMEOUT_MS = 120_000;

export interface GitOptions {
  /** Working directory (a work tree, or anywhere when gitDir is given). */
  cwd?: string;
  /** Runs as `git --git-dir=<gitDir>`; used for the server's repo.git. */
  gitDir?: string;
  input?: string;
  env?: Record<string, string | undefined>;
  /** Do not throw on a non-zero exit; the caller reads exitCode. */
  allowFailure?: boolean;
  /** Kill git after this many ms (network calls that could hang on a dead host); reported as exit 124. */
  timeoutMs?: number;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

// Inside a hook git exports GIT_DIR, GIT_INDEX_FILE etc. for *its* repo; a git call of ours that targets another
// repo (the external remote's bare repo, a server repo.git) must not inherit them.
const INHERITED_REPO_VARS = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_QUARANTINE_PATH',
];

export function cleanGitEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of INHERITED_REPO_VARS) env[k] = undefined;
  return { ...env, LETTA_MEMFS_INTERNAL: '1', ...extra };
}

interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  /** undefined: git could not be started (spawnError says why). */
  exitCode?: number;
  spawnError?: Error;
  timedOut: boolean;
}

/**
 * Spawns git with node:child_process, not execa: hooks start this module on every push, and importing execa alone
 * costs ~90 ms there (issue 9). Environment: ours on top of the caller's, where undefined removes a variable.
 */
function spawnGit(args: readonly string[], opts: GitOptions, stdoutFd?: number): Promise<RawResult> {
  const full = opts.gitDir ? [`--git-dir=${opts.gitDir}`, ...args] : [...args];
  return new Promise((resolve) => {
    // No stdin pipe unless there is input: each pipe is a socket node sets up, on the hook path too.
    const child = spawn('git', full, {
      cwd: opts.cwd,
      env: { ...process.env, ...cleanGitEnv(opts.env) },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', stdoutFd ?? 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    // git may exit before reading all of its input (a bad argument): that is its exit code's business, not an error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input);
    const done = (exitCode: number | undefined, spawnError?: Error) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode, spawnError, timedOut });
    };
    child.on('error', (e) => done(undefined, e));
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

const text = (b: Buffer) => b.toString('utf8').replace(/\r?\n$/, '');

function notStarted(res: RawResult, cwd?: string): never {
  // spawn reports a missing cwd as ENOENT too: that is the path's fault, not git's installation.
  if (cwd && !existsSync(cwd)) throw new UserError(`${cwd} does not exist`, 'pass an existing directory (--repo <dir>)');
  throw new UserError(`could not run git: ${res.spawnError?.message}`, 'install git 2.38 or newer and put it on PATH');
}

/** Runs git and keeps stdout as bytes (names need not be UTF-8: `ls-tree -z`). */
export async function gitBytes(args: readonly string[], opts: GitOptions = {}): Promise<Buffer> {
  const res = await spawnGit(args, opts);
  if (res.exitCode === undefined) notStarted(res, opts.cwd);
  if (res.exitCode !== 0 || res.timedOut) throw new GitError(args, { stdout: '', stderr: text(res.stderr), exitCode: res.timedOut ? 124 : res.exitCode });
  return res.stdout;
}

/** Runs git and returns text; with gitBytes, and git-objects.ts's streamed blob reader, the only places that spawn it. */
export async function git(args: readonly string[], opts: GitOptions = {}): Promise<GitResult> {
  const res = await spawnGit(args, opts);
  if (res.timedOut) {
    const out: GitResult = { stdout: text(res.stdout), stderr: `${text(res.stderr)}\ntimed out after ${opts.timeoutMs} ms`, exitCode: 124 };
    if (opts.allowFailure) return out;
    throw new GitError(args, out);
  }
  if (res.exitCode === undefined) notStarted(res, opts.cwd);
  const out: GitResult = { stdout: text(res.stdout), stderr: text(res.stderr), exitCode: res.exitCode };
  if (out.exitCode !== 0 && !opts.allowFailure) {
    throw new GitError(args, out);
  }
  return out;
}

/** Runs git with its stdout (binary, e.g. `pack-objects --stdout`) written to a file instead of memory. */
export async function gitToFile(args: readonly string[], file: string, opts: GitOptions = {}): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const res = await spawnGit(args, opts, fh.fd);
    if (res.exitCode === undefined) notStarted(res, opts.cwd);
    if (res.exitCode !== 0) throw new GitError(args, { stdout: '', stderr: text(res.stderr), exitCode: res.exitCode });
  } finally {
    await fh.close();
  }
}

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: GitResult,
  ) {
    const last = result.stderr.trim().split('\n').pop() ?? '';
    super(`git ${args[0]} failed (exit ${result.exitCode}): ${last}`);
    this.name = 'GitError';
  }
}

/** Pure: the line of git's stderr that says what failed (`fatal: ...`), not its closing advice ("and the repository exists."). */
export function gitReason(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = lines.find((l) => /^(fatal|error):/.test(l));
  return (fatal ?? lines[0])?.replace(/^(fatal|error):\s*/, '');
}

/** `git config --get`; undefined when unset. */
export async function getConfig(key: string, opts: GitOptions = {}): Promise<string | undefined> {
  const r = await git(['config', '--get', key], { ...opts, allowFailure: true });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Resolves the repo's git dir, common dir and work tree, from any cwd (hooks may get a relative GIT_DIR). */
export interface RepoPaths {
  gitDir: string;
  commonDir: string;
  workTree?: string;
}

export async function resolveRepo(opts: GitOptions): Promise<RepoPaths> {
  // One process in a work tree (the hooks' common case); --show-toplevel fails without one, so then ask for the dirs.
  if (!opts.gitDir) {
    const all = await git(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir', '--show-toplevel'], { ...opts, allowFailure: true });
    const [gitDir, commonDir, workTree] = all.stdout.split('\n');
    if (all.exitCode === 0 && workTree) return { gitDir, commonDir, workTree };
  }
  const r = await git(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'], { ...opts, allowFailure: true });
  if (r.exitCode !== 0) {
    const where = opts.gitDir ?? opts.cwd ?? process.cwd();
    throw new UserError(`${where} is not a git repository`, 'run this inside an agent memory checkout, or pass --repo <dir>');
  }
  const [gitDir, commonDir] = r.stdout.split('\n');
  // With --git-dir (the server's repo.git) git would report the caller's cwd as the work tree: there is none.
  return { gitDir, commonDir };
}
