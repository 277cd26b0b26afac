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

/** Runs git with its stdout (binary, e.g. `pack-objects --stdout`) written to a file instead of memory. */
export async function gitToFile(args: readonly string[], file: string, opts: GitOptions = {}): Promise<void> {
  const full = opts.gitDir ? [`--git-dir=${opts.gitDir}`, ...args] : [...args];
  const res = await execa('git', full, { cwd: opts.cwd, input: opts.input, env: cleanGitEnv(opts.env), reject: false, stdout: { file } });
  if (res.failed && res.exitCode === undefined) {
    throw new UserError(`could not run git: ${res.shortMessage}`, 'install git 2.38 or newer and put it on PATH');
  }
  if (res.exitCode !== 0) throw new GitError(args, { stdout: '', stderr: String(res.stderr), exitCode: res.exitCode ?? 1 });
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

/**
 * Reads many objects with one `git cat-file --batch` process (never one git call per file), bytes intact.
 * Objects git does not have are left out of the result.
 */
export async function readBlobs(oids: Iterable<string>, opts: GitOptions = {}): Promise<Map<string, Buffer>> {
  const list = [...new Set(oids)];
  const out = new Map<string, Buffer>();
  if (list.length === 0) return out;
  const full = opts.gitDir ? [`--git-dir=${opts.gitDir}`, 'cat-file', '--batch'] : ['cat-file', '--batch'];
  const res = await execa('git', full, {
    cwd: opts.cwd,
    input: list.join('\n') + '\n',
    env: cleanGitEnv(opts.env),
    reject: false,
    encoding: 'buffer',
    stripFinalNewline: false,
  });
  if (res.exitCode !== 0) {
    throw new GitError(['cat-file', '--batch'], { stdout: '', stderr: Buffer.from(res.stderr).toString('utf8'), exitCode: res.exitCode ?? 1 });
  }
  const buf = Buffer.from(res.stdout);
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const header = buf.subarray(pos, nl).toString('latin1').split(' ');
    pos = nl + 1;
    if (header[1] === 'missing' || header.length < 3) continue;
    const size = Number(header[2]);
    out.set(header[0], buf.subarray(pos, pos + size));
    pos += size + 1;
  }
  return out;
}
