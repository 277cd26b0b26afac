/**
 * Ref lock files a killed git left in repo.git. git holds `<ref>.lock` (and `HEAD.lock`, for the reflog of the branch
 * HEAD names) for the milliseconds of a ref update and removes it on exit or a catchable signal; a SIGKILL (a
 * replica killed with -9, an OOM kill) leaves it, and from then on every update of main fails ("cannot lock ref"):
 * every push through serve, every Letta commit (its temp copy carries the lock), for ever. The fault test hit it.
 * One older than STALE_REF_LOCK_MS belongs to no running update; Letta itself never runs git in repo.git (it works
 * in temp copies), so only our own killed processes leave them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export const STALE_REF_LOCK_MS = 10_000;

// The refs repo.git's writers update: main (receive-pack, update-ref), HEAD's reflog, packed-refs, our own refs.
const LOCKS = ['HEAD.lock', 'packed-refs.lock', 'refs/heads/main.lock', 'refs/letta-memfs/fence.lock', 'refs/remotes/letta-memfs/main.lock'];

/** Removes the ref lock files unchanged for STALE_REF_LOCK_MS; returns the ones removed (relative paths). */
export async function removeStaleRefLocks(gitDir: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const rel of LOCKS) {
    const file = path.join(gitDir, rel);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile() || now - st.mtimeMs < STALE_REF_LOCK_MS) continue;
    await fs.rm(file, { force: true });
    removed.push(rel);
  }
  return removed;
}
