/**
 * Letta Code's own memory checker, run on a commit before `pull` moves a local-backend checkout's main to it.
 *
 * Letta Code writes `.git/hooks/letta-memory-constraints.cjs` and a pre-commit that runs it (facts file, section 8).
 * From 0.33.3 a HEAD that the checker rejects blocks Letta Code's post-turn push and starts its repair agent, and its
 * pre-commit rejects every later commit; so a merge the checker rejects must never become main. We run that file as
 * the user's own hook (as git runs their pre-commit), with the node their pre-commit names, and nothing else.
 *
 * The commit is audited the way Letta Code audits HEAD (validateMemoryConstraintsHead and memoryLayoutPolicy,
 * src/agent/memory-constraints-audit.ts in the 0.34.12 bundle): `<node> <checker> --layout <policy> --audit` with the
 * index at the commit. Here HEAD must be the commit too (the checker compares `.memfs.config.json` and `readOnlyFiles`
 * with HEAD, which after the move is the commit), so it runs in a scratch repository that borrows the checkout's
 * objects (alternates) and has HEAD and index at the commit: the checkout itself, its refs, index and hooks are not
 * touched, and no hook of ours or Letta Code's fires.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { git, type RepoPaths } from '../git/git.js';
import type { Layout } from '../validate/letta-code-rules.js';

export const CHECKER_FILE = 'letta-memory-constraints.cjs';
const AUDIT_TIMEOUT_MS = 120_000;

/** The node a pre-commit runs the checker with: an absolute path (0.33.3+), or `node` from PATH (0.32.x). */
export type CheckerNode = { path: string; electron: boolean } | 'PATH';

/**
 * Pure: the node Letta Code's pre-commit runs its checker with. 0.33.3+ writes `run_memory_node() {\n  '<execPath>'
 * "$@"\n}` (buildPreCommitHookScript: the path single-quoted with `'"'"'` for a quote, `ELECTRON_RUN_AS_NODE=1 ` in
 * front under Electron); 0.32.18 writes `node "$(git rev-parse --git-common-dir)/hooks/letta-memory-constraints.cjs"`.
 * undefined for anything else: a pre-commit we cannot read is not guessed at.
 */
export function checkerNodeOf(preCommit: string): CheckerNode | undefined {
  const m = /^run_memory_node\(\) \{\n {2}(ELECTRON_RUN_AS_NODE=1 )?'((?:[^'\n]|'"'"')+)' "\$@"\n\}$/m.exec(preCommit);
  if (m) {
    const p = m[2].replaceAll(`'"'"'`, "'");
    return path.isAbsolute(p) && !p.includes('\0') ? { path: p, electron: Boolean(m[1]) } : undefined;
  }
  if (/^\s+node "\$\(git rev-parse --git-common-dir\)\/hooks\/letta-memory-constraints\.cjs" \|\| exit \$\?$/m.test(preCommit)) return 'PATH';
  return undefined;
}

/** Pure: `Memory constraints failed:` and one indented line per problem (the checker's report() in --audit mode). */
export function parseAuditOutput(stderr: string): string[] | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.trim() === 'Memory constraints failed:');
  if (at < 0) return undefined;
  return lines.slice(at + 1).filter((l) => l.startsWith('  ')).map((l) => l.trim());
}

export type CheckerVerdict =
  | { kind: 'accepted' }
  | { kind: 'rejected'; problems: string[] }
  /** The checker exists but could not give a verdict: fail closed. */
  | { kind: 'failed'; reason: string; fix: string };

export interface Checker {
  script: string;
  node: string;
  electron: boolean;
}

async function isExecutableFile(p: string): Promise<boolean> {
  const st = await fs.stat(p).catch(() => undefined);
  if (!st?.isFile()) return false;
  return fs.access(p, fs.constants.X_OK).then(() => true, () => false);
}

const inside = (p: string, dir: string) => {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

async function nodeOnPath(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // a relative PATH entry would resolve against the checkout
    const p = path.join(dir, 'node');
    if (await isExecutableFile(p)) return p;
  }
  return undefined;
}

/**
 * The checkout's checker, 'absent' when Letta Code has not written one, or a verdict of failure when it is there but
 * its node cannot be found: a node inside the checkout (work tree or git dir) is never run.
 */
export async function findChecker(repo: RepoPaths, env: NodeJS.ProcessEnv = process.env): Promise<Checker | 'absent' | Extract<CheckerVerdict, { kind: 'failed' }>> {
  const hooks = path.join(repo.commonDir, 'hooks');
  const script = path.join(hooks, CHECKER_FILE);
  if (!(await fs.stat(script).then((s) => s.isFile(), () => false))) return 'absent';
  const reopen = 'open the agent once in Letta Code (it rewrites .git/hooks/pre-commit), then pull again';
  const preCommit = await fs.readFile(path.join(hooks, 'pre-commit'), 'utf8').catch(() => '');
  const named = checkerNodeOf(preCommit);
  if (!named) return { kind: 'failed', reason: `.git/hooks/pre-commit does not say which node runs Letta Code's checker`, fix: reopen };
  const node = named === 'PATH' ? await nodeOnPath(env) : named.path;
  if (!node || !(await isExecutableFile(node))) {
    return { kind: 'failed', reason: `the node Letta Code's pre-commit runs (${named === 'PATH' ? 'node on PATH' : named.path}) is missing`, fix: reopen };
  }
  const real = await fs.realpath(node);
  for (const dir of [repo.workTree, repo.commonDir, repo.gitDir]) {
    if (dir && (inside(node, dir) || inside(real, dir))) return { kind: 'failed', reason: `the pre-commit's node ${node} is inside the checkout; it is not run`, fix: reopen };
  }
  return { script, node, electron: named !== 'PATH' && named.electron };
}

/** Letta Code's layout policy for the checkout with `commit` as its HEAD (memoryLayoutPolicy). */
export async function layoutOf(repo: RepoPaths, commit: string): Promise<Layout> {
  const policyFile = await fs.readFile(path.join(repo.commonDir, 'letta-memory-layout-policy'), 'utf8').catch(() => undefined);
  const inHistory = (await git(['rev-list', '-n', '1', commit, '--', 'MEMORY.md'], { gitDir: repo.commonDir })).stdout !== '';
  const atTip = (await git(['cat-file', '-e', `${commit}:MEMORY.md`], { gitDir: repo.commonDir, allowFailure: true })).exitCode === 0;
  return layoutPolicyOf(policyFile, inHistory, atTip);
}

/** Pure: Letta Code's layout policy for a tree (memoryLayoutPolicy, applied to `commit` as HEAD). */
export function layoutPolicyOf(policyFile: string | undefined, memoryMdInHistory: boolean, memoryMdAtTip: boolean): Layout {
  const p = policyFile?.trim();
  if (p === 'legacy-only' || p === 'shared-memory') return p;
  if (p === 'root-marker') return memoryMdInHistory ? 'root-marker' : 'legacy-only';
  return memoryMdAtTip ? 'root-marker' : 'legacy-only';
}

function runChecker(c: Checker, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn(c.node, [c.script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), AUDIT_TIMEOUT_MS);
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: '', error });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Runs the checker on `commit` of `repo` in a scratch repository (see the top of this file). */
export async function auditWithChecker(repo: RepoPaths, c: Checker, commit: string): Promise<CheckerVerdict> {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'lmh-audit-'));
  try {
    await git(['init', '--quiet', '--template=', scratch]);
    await fs.writeFile(path.join(scratch, '.git', 'objects', 'info', 'alternates'), path.join(path.resolve(repo.commonDir), 'objects') + '\n');
    await git(['update-ref', '--no-deref', 'HEAD', commit], { cwd: scratch });
    await git(['read-tree', commit], { cwd: scratch });
    const policy = await layoutOf(repo, commit);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_') && k !== 'LETTA_MEMORY_CONSTRAINTS_UPDATE') env[k] = v;
    if (c.electron) env.ELECTRON_RUN_AS_NODE = '1';
    const r = await runChecker(c, ['--layout', policy, '--audit'], scratch, env);
    if (r.code === 0) return { kind: 'accepted' };
    const problems = r.code === 1 ? parseAuditOutput(r.stderr) : undefined;
    if (problems && problems.length > 0) return { kind: 'rejected', problems };
    const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.code ?? 'by a signal'}`);
    return { kind: 'failed', reason: `Letta Code's checker could not check the merge: ${why}`, fix: 'run it by hand in the checkout (node .git/hooks/letta-memory-constraints.cjs --audit), then pull again' };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
