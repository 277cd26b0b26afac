/**
 * Moving a ref only while holding the newest fencing token (server/letta/lease.ts): one git ref transaction updates
 * the ref (compare-and-swap on its old value) and `refs/letta-memfs/fence`, a blob holding the token of the last
 * holder that wrote (compare-and-swap too). A replica whose lease was taken over carries an older token: it sees a
 * higher one recorded and stops, and if the newer holder records its token between our read and our commit, git
 * refuses the whole transaction (both refs are locked together), so `main` never moves under a stale lease.
 */
import { git } from './git.js';
import { readRef, ZERO } from './refs.js';

export const FENCE_REF = 'refs/letta-memfs/fence';

/** The token recorded in the repo (0: none yet). */
export async function recordedFence(gitDir: string): Promise<{ oid?: string; fence: number }> {
  const oid = await readRef(gitDir, FENCE_REF);
  if (!oid) return { fence: 0 };
  const r = await git(['cat-file', 'blob', oid], { gitDir, allowFailure: true });
  // Only this module writes it; anything unreadable counts as no token rather than wedging every later write.
  const n = r.exitCode === 0 ? Number(r.stdout.trim()) : NaN;
  return { oid, fence: Number.isSafeInteger(n) && n > 0 ? n : 0 };
}

export type FencedUpdate = 'ok' | 'moved' | { fencedBy: number };

/** `ref` from `old` (undefined: must not exist) to `next`, if `fence` is at least the recorded token. */
export async function fencedUpdateRef(gitDir: string, ref: string, next: string, old: string | undefined, fence: number, message: string): Promise<FencedUpdate> {
  const seen = await recordedFence(gitDir);
  if (seen.fence > fence) return { fencedBy: seen.fence };
  const blob = seen.fence === fence && seen.oid ? seen.oid : (await git(['hash-object', '-w', '--stdin'], { gitDir, input: `${fence}\n` })).stdout.trim();
  const input = `start\nupdate ${ref} ${next} ${old ?? ZERO}\nupdate ${FENCE_REF} ${blob} ${seen.oid ?? ZERO}\nprepare\ncommit\n`;
  const r = await git(['update-ref', '-m', message, '--stdin'], { gitDir, input, allowFailure: true });
  if (r.exitCode === 0) return 'ok';
  const now = await recordedFence(gitDir);
  return now.fence > fence ? { fencedBy: now.fence } : 'moved';
}
