/**
 * The service's pre-receive: only `main` may be pushed, and the checks of the client's pre-push (src/validate/: binary
 * or non-UTF-8 files, frontmatter, read_only, crafted names, sizes, submodules) on it, so that no client, ours or not, can push
 * a tree that breaks Letta's post-push sync (one binary file fails every later sync: facts §6). git prints what we
 * write to stderr as `remote:` lines and reports `[remote rejected] main -> main (pre-receive hook declined)`.
 */
import { git, type GitOptions } from '../../git/git.js';
import { lsTree, ObjectReader } from '../../git/objects.js';
import { MAIN } from '../../git/refs.js';
import { formatProblem, type Problem } from '../../validate/problem.js';
import { ZERO_OID } from '../../validate/push.js';
import { MAX_FILE_BYTES, type PushedBlob, validateNewBlobs, validateUpdate } from '../../validate/tree.js';
import { acquireLock } from '../letta/redis-lock.js';
import { trace } from '../../core/trace.js';
import path from 'node:path';

export interface RefUpdate {
  oldOid: string;
  newOid: string;
  ref: string;
}

/** git's pre-receive stdin: `<old-oid> <new-oid> <ref-name>` per line (githooks(5)). */
export function parseReceiveInput(stdin: string): RefUpdate[] {
  const out: RefUpdate[] = [];
  for (const line of stdin.split('\n')) {
    const m = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) (\S+)$/.exec(line.trim());
    if (m) out.push({ oldOid: m[1], newOid: m[2], ref: m[3] });
  }
  return out;
}

/**
 * Inside receive-pack the pushed objects sit in a quarantine directory that git names in GIT_OBJECT_DIRECTORY and
 * friends; our git calls must keep them (git/git.ts drops them for calls into other repos).
 */
export function quarantineOptions(env: NodeJS.ProcessEnv, cwd: string): GitOptions {
  const keep = ['GIT_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH'] as const;
  return { cwd, env: Object.fromEntries(keep.map((k) => [k, env[k]])) };
}

/**
 * Letta Code pushes main and nothing else to Letta (letta-code 0.33.8 and 0.34.12 bundles: `push -u origin main`,
 * `push -u origin HEAD:main`, `push origin main`; its worktree branches `letta/<label>/<id>` are merged locally and
 * never pushed). Any other ref (refs/heads/HEAD, refs/remotes/*, our own refs/letta-memfs/conflicts/*, tags) would
 * only confuse a clone, a mirror or `status --server`.
 */
export function refProblems(updates: readonly RefUpdate[]): Problem[] {
  return updates
    .filter((u) => u.ref !== MAIN)
    .map((u) => ({ path: u.ref, message: 'only refs/heads/main can be pushed to the Letta server', fix: 'push main (git push origin HEAD:main)' }));
}

/** The blobs the pushed commits bring that the repo did not have, with a path each had (rev-list --objects). */
async function newBlobs(tips: readonly string[], opts: GitOptions): Promise<PushedBlob[]> {
  const r = await git(['rev-list', '--objects', ...tips, '--not', '--all'], opts);
  const out: PushedBlob[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([0-9a-f]{40,64}) (.+)$/.exec(line);
    if (m) out.push({ oid: m[1], path: m[2] });
  }
  return out;
}

/** Problems in a push: a ref other than main; main's new tree (as the client's pre-push) and every new blob. */
export async function checkReceive(updates: readonly RefUpdate[], opts: GitOptions): Promise<Problem[]> {
  const refused = refProblems(updates);
  if (refused.length > 0) return refused;
  const problems: Problem[] = [];
  const objects = new ObjectReader(MAX_FILE_BYTES, opts);
  try {
    for (const u of updates) {
      if (ZERO_OID.test(u.newOid)) continue;
      const tree = await lsTree(u.newOid, opts);
      const base = ZERO_OID.test(u.oldOid) ? undefined : await lsTree(u.oldOid, opts);
      problems.push(...(await validateUpdate({ tree, base }, objects)));
      const inTree = new Set(tree.map((e) => e.oid));
      problems.push(...(await validateNewBlobs((await newBlobs([u.newOid], opts)).filter((b) => !inTree.has(b.oid)), objects)));
    }
  } finally {
    await objects.close();
  }
  return problems;
}

/** The service's lock request for this receive-pack (server.ts sets it only when Letta uses Redis). */
export interface LockRequest {
  host: string;
  port: number;
  agentId: string;
  token: string;
  waitMs: number;
}

export function lockRequestOf(env: NodeJS.ProcessEnv): LockRequest | undefined {
  const [host, port] = (env.LMH_LOCK_REDIS ?? '').split(/:(?=\d+$)/);
  if (!host || !port || !env.LMH_LOCK_AGENT || !env.LMH_LOCK_TOKEN) return undefined;
  return { host, port: Number(port), agentId: env.LMH_LOCK_AGENT, token: env.LMH_LOCK_TOKEN, waitMs: Number(env.LMH_LOCK_WAIT_MS) || 15_000 };
}

/**
 * Takes Letta's commit lock once the push is known to be valid, right before receive-pack moves main; the service
 * releases it when receive-pack exits (server.ts). A Letta commit holding it is waited for, up to waitMs. A Redis
 * that cannot be reached does not stop the push: the service's after-push check re-merges an overwritten push.
 */
async function lockMain(updates: readonly RefUpdate[], req: LockRequest | undefined): Promise<'ok' | 'busy'> {
  if (!req || !updates.some((u) => u.ref === MAIN)) return 'ok';
  try {
    return (await acquireLock(req, req.agentId, req.token, req.waitMs)) ? 'ok' : 'busy';
  } catch {
    return 'ok';
  }
}

/** Runs as the hook: returns the exit code; one stderr line per problem, the client shows them as `remote:`. */
export async function preReceive(stdin: string, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  let problems: Problem[];
  const agent = path.basename(path.dirname(path.resolve(cwd)));
  trace('serve.check.start', agent);
  const updates = parseReceiveInput(stdin);
  try {
    problems = await checkReceive(updates, quarantineOptions(env, cwd));
  } catch (err) {
    // Cannot check: refuse rather than let an unchecked tree reach Letta's sync.
    process.stderr.write(`letta-memfs-hooks: push refused: the server could not check it (${(err as Error).message.split('\n')[0]}); try again\n`);
    return 1;
  }
  trace('serve.check.end', agent);
  if (problems.length === 0) {
    const req = lockRequestOf(env);
    if ((await lockMain(updates, req)) === 'ok') {
      trace('serve.lock', agent);
      return 0;
    }
    process.stderr.write(`letta-memfs-hooks: push refused: the Letta server kept this agent's memory locked for ${Math.round(req!.waitMs / 1000)} s; push again\n`);
    return 1;
  }
  if (problems.length > 1) process.stderr.write(`letta-memfs-hooks: push refused: ${problems.length} problems\n`);
  for (const p of problems) process.stderr.write(`letta-memfs-hooks: push refused: ${formatProblem(p)}\n`);
  return 1;
}
