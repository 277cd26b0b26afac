/**
 * What one pull (watch) or mirror (serve) adds to the counters. Pure mapping from an outcome to label values,
 * then the increments: outcomes are read from what the pull reports, never from repo content.
 */
import type { PullOutcome } from '../repo/pull.js';
import type { ServeMetrics, WatchMetrics } from './registry.js';

/** Steps that moved main to commits from the external host (plan.ts ReconcileStep, pull.ts). */
const FROM_HOST = new Set(['create-main', 'fast-forward', 'merge', 'conflict-merge']);
/** Steps that pushed main to the external host. */
const TO_HOST = new Set(['push', 'seed']);
/** pull.ts pushMain's error when the host refused or could not be reached. */
const PUSH_FAILED = /push to the external remote failed/;

export interface PullCounts {
  pull: 'ok' | 'conflict' | 'failed';
  pushes: { ok: number; failed: number };
  sync?: 'synced' | 'marked' | 'failed' | 'busy';
  recompile?: 'ok' | 'failed';
  /** main moved to the host's commits and Letta holds them: a host-to-block latency to observe. */
  hostToBlock: boolean;
}

/**
 * Pure. `stock`: main moved by a push through Letta's /v1/git/, whose proxy syncs the blocks before it answers, so
 * a move that succeeded is in the blocks (no sync-from-git call to wait for).
 */
export function pullCounts(o: PullOutcome, stock = false): PullCounts {
  const action = o.sync?.action;
  const sync = action === 'none' ? undefined : action;
  return {
    pull: o.error ? 'failed' : o.conflict ? 'conflict' : 'ok',
    pushes: { ok: o.steps.filter((s) => TO_HOST.has(s)).length, failed: o.error && PUSH_FAILED.test(o.error) ? 1 : 0 },
    sync,
    recompile: o.sync?.recompile && (sync === 'synced' || sync === 'failed') ? (sync === 'synced' ? 'ok' : 'failed') : undefined,
    hostToBlock: (stock ? !o.error : sync === 'synced') && o.steps.some((s) => FROM_HOST.has(s)),
  };
}

function countPushes(m: WatchMetrics | ServeMetrics, c: PullCounts): void {
  if (c.pushes.ok > 0) m.pushes.inc({ outcome: 'ok' }, c.pushes.ok);
  if (c.pushes.failed > 0) m.pushes.inc({ outcome: 'failed' }, c.pushes.failed);
}

/** A watch pull (or sync retry: `pull` false). `learnedAtMs`: when watch first heard of work for this agent. */
export function recordPull(m: WatchMetrics, o: PullOutcome, opts: { pull: boolean; learnedAtMs?: number; nowMs?: number; stock?: boolean }): void {
  const c = pullCounts(o, opts.stock);
  if (opts.pull) m.pulls.inc({ outcome: c.pull });
  countPushes(m, c);
  if (c.sync) m.syncs.inc({ outcome: c.sync });
  if (c.recompile) m.recompiles.inc({ outcome: c.recompile });
  if (c.hostToBlock && opts.learnedAtMs !== undefined) m.hostToBlock.observe(Math.max(0, (opts.nowMs ?? Date.now()) - opts.learnedAtMs) / 1000);
  if (c.sync === 'synced' || c.sync === 'marked') m.tallies.pending.set(o.agentId, 0);
  else if (c.sync === 'failed' || c.sync === 'busy') m.tallies.pending.set(o.agentId, 1);
}

/** A serve mirror (a pull without the Letta sync). */
export function recordMirror(m: ServeMetrics, o: PullOutcome): void {
  const c = pullCounts(o);
  m.mirrors.inc({ outcome: c.pull === 'failed' ? 'failed' : 'ok' });
  countPushes(m, c);
  m.tallies.mirrorFailing.set(o.agentId, c.pull === 'failed');
}
