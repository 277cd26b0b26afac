import path from 'node:path';
import type { ServerMode } from '../../core/config/schema.js';
import { readJson, stateDirOf, writeJsonAtomic } from '../../core/settings.js';

/**
 * Durable per-agent sync record in `repo.git/letta-memfs/sync.json`. The Letta server's temp-copy commits copy
 * repo.git back by mtime and never touch files they did not change (git_operations.py @ 0.16.7, `_upload_delta`),
 * so this file survives them. Written only under the agent's sync lock, always by temp file + rename.
 */
export interface SyncState {
  version: 1;
  /** The commit whose content Letta holds: sync-from-git answered 2xx while main pointed at it (patched mode), or
   * main as Letta itself moved it (stock mode: its own commits, or a push through its proxy, which it synced). */
  lastSynced?: string;
  lastSyncedAt?: string;
  /** A sync that was wanted but not acknowledged yet: the head it was for. */
  pending?: { target: string; since: string; attempts: number; retryAfter?: string };
  lastError?: { message: string; at: string };
  /** How many sync calls were made (status and the idle bench read it). */
  calls?: number;
}

export const syncStateFile = (gitDir: string) => path.join(stateDirOf(gitDir), 'sync.json');
export const syncLockFile = (gitDir: string) => path.join(stateDirOf(gitDir), 'sync.lock');

export async function readSyncState(gitDir: string): Promise<SyncState> {
  return (await readJson<SyncState>(syncStateFile(gitDir))) ?? { version: 1 };
}

export function writeSyncState(gitDir: string, state: SyncState): Promise<void> {
  return writeJsonAtomic(syncStateFile(gitDir), state);
}

/** What lies between the last synced commit and the new head, as far as the decision needs it. */
export interface SyncDiff {
  /** Paths changed between lastSynced and head; undefined when unknown (no lastSynced, or it is gone). */
  changedPaths?: readonly string[];
  /**
   * Every commit since lastSynced was made by the Letta server itself (it already holds that content in Postgres:
   * the server commit is written from the block it just saved, services/block_manager_git.py and memory_repo/memfs_client_base.py @ 0.16.7), and lastSynced is
   * their ancestor. Only then may a move of main be acknowledged without a call.
   */
  serverOrigin?: boolean;
}

export type SyncPlan =
  | { action: 'none'; reason: string }
  | { action: 'mark'; target: string; reason: string }
  | { action: 'call'; target: string; recompile: boolean; reason: string };

/**
 * Pure: whether to call sync-from-git for `head` (never in stock mode), and with `recompile=true` only when `system/` changed since the
 * last acknowledged commit (recompiling invalidates the LLM provider's prompt cache; only `system/*` blocks reach the
 * prompt, letta/services/memory_repo/path_mapping.py @ 0.16.7). Always targets the current head, so repeated
 * triggers coalesce and nothing is ever synced out of order.
 */
export function planSync(state: SyncState, head: string | undefined, diff: SyncDiff = {}, mode: ServerMode = 'patched'): SyncPlan {
  if (!head) return { action: 'none', reason: 'main does not exist yet' };
  if (state.lastSynced === head) return { action: 'none', reason: 'already synced' };
  // Stock mode moves main only through Letta (its commits, or a push through /v1/git/ after which the proxy runs its
  // own block sync, and the service recompiles): Letta holds main already, and there is no endpoint to call.
  if (mode === 'stock') return { action: 'mark', target: head, reason: 'stock mode: Letta moved main itself' };
  if (diff.serverOrigin && state.lastSynced) return { action: 'mark', target: head, reason: 'server-made commits only' };
  if (!state.lastSynced || diff.changedPaths === undefined) {
    return { action: 'call', target: head, recompile: true, reason: 'no usable last synced commit' };
  }
  const recompile = diff.changedPaths.some((p) => p.startsWith('system/'));
  return { action: 'call', target: head, recompile, reason: recompile ? 'system/ changed' : 'only non-system files changed' };
}

/** A Letta server commit: author `User <actor_id> <actor_id@letta.ai>` or `Letta System <system@letta.ai>`. */
export function isServerCommit(authorEmail: string, subject: string): boolean {
  const actor = /^(user-[0-9a-f-]{36}|system)@letta\.ai$/.test(authorEmail);
  const message = /^(Initial commit|(Update|Create|Delete|Backfill) .+ block)$/.test(subject);
  return actor && message;
}

/** Pure: how long background retries of a failed sync wait, by attempts so far: 5 s, 10 s, 20 s, ... at most 5 min. */
export function retryDelayMs(attempts: number): number {
  return Math.min(5000 * 2 ** Math.max(0, attempts - 1), 300_000);
}
