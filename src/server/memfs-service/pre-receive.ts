/**
 * The service's pre-receive check, run in serve's process while git waits in the hook (hook-channel.ts): only `main`
 * may be pushed, and the checks of the client's pre-push (src/validate/: binary or non-UTF-8 files, frontmatter,
 * read_only, crafted names, sizes, submodules) on it, so that no client, ours or not, can push a tree that breaks
 * Letta's post-push sync (one binary file fails every later sync: facts §6). git prints the verdict's lines as
 * `remote:` lines and reports `[remote rejected] main -> main (pre-receive hook declined)`.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { git, type GitOptions } from '../../git/git.js';
import { ObjectReader } from '../../git/objects.js';
import { QUARANTINE } from '../../git/quarantine.js';
import { MAIN } from '../../git/refs.js';
import { formatProblem, type Problem } from '../../validate/problem.js';
import { ZERO_OID } from '../../validate/push.js';
import { MAX_FILE_BYTES, type PushedBlob, validateNewBlobs, validateUpdate } from '../../validate/tree.js';
import { acquireLock, releaseLock, type RedisTarget } from '../letta/redis-lock.js';
import { trace } from '../../core/trace.js';
import type { HookInput, Verdict } from './hook-channel.js';

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
 * Inside receive-pack the pushed objects sit in a quarantine directory; our git calls read them there and the repo's
 * own objects as an alternate, as git's environment for a hook has it (tmp-objdir.c).
 */
export function quarantineOptions(gitDir: string, quarantine: string): GitOptions {
  return { cwd: gitDir, env: { GIT_DIR: gitDir, GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(gitDir, 'objects'), GIT_QUARANTINE_PATH: quarantine } };
}

/**
 * The quarantine the hook named, when it is one of this repo's: git names it `<gitDir>/./objects/tmp_objdir-incoming-XXXXXX`
 * from the physical working directory (receive-pack runs in repo.git). The hook's word is untrusted: any other path,
 * a symlink or a missing directory is undefined (the push is refused).
 */
export async function quarantineOf(gitDir: string, named: string): Promise<string | undefined> {
  const m = /^(\/.*?)\/(?:\.\/)?objects\/([^/]+)$/.exec(named);
  if (!m || !QUARANTINE.test(m[2])) return undefined;
  const real = await realpath(gitDir).catch(() => undefined);
  if (m[1] !== gitDir && m[1] !== real) return undefined;
  const dir = path.join(m[1], 'objects', m[2]);
  return (await lstat(dir).catch(() => undefined))?.isDirectory() ? dir : undefined;
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

/**
 * Problems in a push: a ref other than main; main's new tree (as the client's pre-push) and every new blob. Trees are
 * read through the one cat-file, with rev-list --objects beside it: two git processes a push.
 */
export async function checkReceive(updates: readonly RefUpdate[], opts: GitOptions): Promise<Problem[]> {
  const refused = refProblems(updates);
  if (refused.length > 0) return refused;
  const problems: Problem[] = [];
  const objects = new ObjectReader(MAX_FILE_BYTES, opts);
  try {
    for (const u of updates) {
      if (ZERO_OID.test(u.newOid)) continue;
      const [blobs, tree, base] = await Promise.all([newBlobs([u.newOid], opts), objects.lsTree(u.newOid), ZERO_OID.test(u.oldOid) ? undefined : objects.lsTree(u.oldOid)]);
      problems.push(...(await validateUpdate({ tree, base }, objects)));
      const inTree = new Set(tree.map((e) => e.oid));
      problems.push(...(await validateNewBlobs(blobs.filter((b) => !inTree.has(b.oid)), objects)));
    }
  } finally {
    await objects.close();
  }
  return problems;
}

/** Letta's commit lock for one push: taken with this token, released by serve when receive-pack exits. */
export interface PushLock {
  redis: RedisTarget;
  token: string;
  waitMs: number;
}

/**
 * Takes Letta's commit lock once the push is known to be valid, right before receive-pack moves main; the service
 * releases it when receive-pack exits (server.ts). A Letta commit holding it is waited for, up to waitMs. A Redis
 * that cannot be reached does not stop the push: the service's after-push check re-merges an overwritten push.
 * A receive-pack gone meanwhile gets no lock: one taken after it exited is given back at once.
 */
async function lockMain(agent: string, updates: readonly RefUpdate[], lock: PushLock | undefined, gone: AbortSignal): Promise<'ok' | 'busy'> {
  if (!lock || !updates.some((u) => u.ref === MAIN)) return 'ok';
  try {
    const held = await acquireLock(lock.redis, agent, lock.token, lock.waitMs, gone);
    if (held && gone.aborted) await releaseLock(lock.redis, agent, lock.token).catch(() => undefined); // expires anyway
    return held ? 'ok' : 'busy';
  } catch {
    return 'ok';
  }
}

const refusal = (text: string) => `letta-memfs-hooks: push refused: ${text}`;

/** The verdict on one push, for the hook: checks, then Letta's lock; a check that cannot run refuses. */
export async function decidePush(push: { gitDir: string; agent: string; lock?: PushLock }, input: HookInput, gone: AbortSignal): Promise<Verdict> {
  trace('serve.check.start', push.agent);
  const updates = parseReceiveInput(input.refLines);
  // git receives no pack, so makes no quarantine, for a push of deletions only (receive-pack.c delete_only).
  const deletions = updates.every((u) => ZERO_OID.test(u.newOid)) && input.quarantine === '';
  const quarantine = deletions ? undefined : await quarantineOf(push.gitDir, input.quarantine);
  if (!deletions && !quarantine) return { accept: false, lines: [refusal("the server could not check it (git named no quarantine of this repo's); try again")] };
  let problems: Problem[];
  try {
    problems = await checkReceive(updates, quarantine ? quarantineOptions(push.gitDir, quarantine) : { cwd: push.gitDir, env: { GIT_DIR: push.gitDir } });
  } catch (err) {
    // Cannot check: refuse rather than let an unchecked tree reach Letta's sync.
    return { accept: false, lines: [refusal(`the server could not check it (${(err as Error).message.split('\n')[0]}); try again`)] };
  }
  trace('serve.check.end', push.agent);
  if (problems.length > 0) {
    return { accept: false, lines: [...(problems.length > 1 ? [refusal(`${problems.length} problems`)] : []), ...problems.map((p) => refusal(formatProblem(p)))] };
  }
  if ((await lockMain(push.agent, updates, push.lock, gone)) === 'busy') {
    return { accept: false, lines: [refusal(`the Letta server kept this agent's memory locked for ${Math.round(push.lock!.waitMs / 1000)} s; push again`)] };
  }
  trace('serve.lock', push.agent);
  return { accept: true, lines: [] };
}
