import { execa } from 'execa';
import { UserError } from './errors.js';

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

/** Runs git; the only place in the package that spawns it. */
export async function git(args: readonly string[], opts: GitOptions = {}): Promise<GitResult> {
  const full = opts.gitDir ? [`--git-dir=${opts.gitDir}`, ...args] : [...args];
  const res = await execa('git', full, {
    cwd: opts.cwd,
    input: opts.input,
    env: cleanGitEnv(opts.env),
    reject: false,
    stripFinalNewline: true,
    timeout: opts.timeoutMs,
  });
  if (res.timedOut) {
    const out: GitResult = { stdout: res.stdout, stderr: `${res.stderr}\ntimed out after ${opts.timeoutMs} ms`, exitCode: 124 };
    if (opts.allowFailure) return out;
    throw new GitError(args, out);
  }
  if (res.failed && res.exitCode === undefined) {
    throw new UserError(`could not run git: ${res.shortMessage}`, 'install git 2.38 or newer and put it on PATH');
  }
  const out: GitResult = { stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode ?? 1 };
  if (out.exitCode !== 0 && !opts.allowFailure) {
    throw new GitError(args, out);
  }
  return out;
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
