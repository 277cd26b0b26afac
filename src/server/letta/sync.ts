import { git } from '../../git/git.js';
import { trace } from '../../core/trace.js';
import type { AgentRepo } from '../repo/discover.js';
import { LettaApiError, type LettaClientOptions, syncFromGit } from './letta-api.js';
import { type Lock, tryLock, waitLock } from '../../core/lock.js';
import { MAIN, readRef } from '../../git/refs.js';
import { isServerCommit, planSync, readSyncState, retryDelayMs, type SyncDiff, syncLockFile, type SyncState, writeSyncState } from './sync-state.js';

export interface SyncOutcome {
  agentId: string;
  /** none: nothing to do; marked: server-made commits (stock mode: any main) acknowledged without a call; busy: another process holds the
   * lock and re-checks main when it lets go. */
  action: 'none' | 'marked' | 'synced' | 'failed' | 'busy';
  target?: string;
  recompile?: boolean;
  calls: number;
  error?: string;
  /** With `failed`: whether a later retry may succeed (connection, 429, 5xx). */
  retryable?: boolean;
}

export interface SyncOptions {
  /** Wait this long for another process's sync lock instead of leaving the work to it. */
  waitMs?: number;
  /** Only acknowledge server-made commits (no call): `pull` does this before it merges, so the recompile decision
   * afterwards compares against what Postgres really holds. */
  markOnly?: boolean;
}

async function changedPaths(gitDir: string, from: string, to: string): Promise<string[] | undefined> {
  const r = await git(['diff', '--name-only', '--no-renames', '-z', from, to, '--'], { gitDir, allowFailure: true });
  // A lastSynced that no longer exists (a rewritten repo) gives no usable diff: the plan then recompiles.
  return r.exitCode === 0 ? r.stdout.split('\0').filter(Boolean) : undefined;
}

async function diffSince(gitDir: string, state: SyncState, head: string): Promise<SyncDiff> {
  if (!state.lastSynced) return {};
  const [paths, log] = await Promise.all([
    changedPaths(gitDir, state.lastSynced, head),
    git(['log', '--format=%ae%x09%s', `${state.lastSynced}..${head}`], { gitDir, allowFailure: true }),
  ]);
  if (paths === undefined) return {};
  const lines = log.exitCode === 0 ? log.stdout.split('\n').filter(Boolean) : [];
  let serverOrigin = lines.length > 0 && lines.every((l) => isServerCommit(l.split('\t')[0], l.slice(l.indexOf('\t') + 1)));
  if (serverOrigin) {
    // Server commits on a base other than lastSynced (it overwrote main by file copy) do not match Postgres.
    const anc = await git(['merge-base', '--is-ancestor', state.lastSynced, head], { gitDir, allowFailure: true });
    serverOrigin = anc.exitCode === 0;
  }
  return { changedPaths: paths, serverOrigin };
}

const now = () => new Date().toISOString();

async function deliverLocked(repo: AgentRepo, letta: LettaClientOptions, out: SyncOutcome, markOnly: boolean): Promise<void> {
  // Each round targets the head as it is now; a head that moves during the call gets another round.
  for (let round = 0; round < 20; round++) {
    const head = await readRef(repo.gitDir, MAIN);
    const state = await readSyncState(repo.gitDir);
    if (head && head === state.lastSynced) {
      if (state.pending || state.lastError) await writeSyncState(repo.gitDir, { ...state, pending: undefined, lastError: undefined });
      return;
    }
    // Stock mode needs no diff: it only marks (planSync).
    const plan = planSync(state, head, head && letta.mode !== 'stock' ? await diffSince(repo.gitDir, state, head) : {}, letta.mode);
    if (plan.action === 'none') return;
    if (plan.action === 'mark') {
      await writeSyncState(repo.gitDir, { ...state, lastSynced: plan.target, lastSyncedAt: now(), pending: undefined, lastError: undefined });
      if (out.action === 'none') out.action = 'marked';
      out.target = plan.target;
      continue;
    }
    if (markOnly) return;
    const pending = { target: plan.target, since: state.pending?.since ?? now(), attempts: (state.pending?.attempts ?? 0) + 1 };
    await writeSyncState(repo.gitDir, { ...state, pending });
    out.target = plan.target;
    out.recompile = plan.recompile;
    try {
      trace('watch.endpoint.start', repo.agentId);
      await syncFromGit(letta, repo.agentId, plan.recompile);
      trace('watch.endpoint.end', repo.agentId);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Written down so that `status --server` shows the backoff, and background retries (watch) honour it.
      const retryAfter = new Date(Date.now() + retryDelayMs(pending.attempts)).toISOString();
      await writeSyncState(repo.gitDir, { ...state, pending: { ...pending, retryAfter }, lastError: { message, at: now() }, calls: (state.calls ?? 0) + 1 });
      out.calls++;
      out.action = 'failed';
      out.error = err instanceof LettaApiError && err.fix ? `${message} (fix: ${err.fix})` : message;
      out.retryable = err instanceof LettaApiError ? err.retryable : true;
      return;
    }
    out.calls++;
    out.action = 'synced';
    await writeSyncState(repo.gitDir, {
      ...state,
      lastSynced: plan.target,
      lastSyncedAt: now(),
      pending: undefined,
      lastError: undefined,
      calls: (state.calls ?? 0) + 1,
    });
  }
}

/**
 * Brings Letta's Postgres blocks up to the agent's current `main`: at most one process per agent delivers (lock);
 * the others return `busy`, and the holder looks at main again after letting go, so no trigger is lost.
 */
export async function syncAgent(repo: AgentRepo, letta: LettaClientOptions, opts: SyncOptions = {}): Promise<SyncOutcome> {
  const out: SyncOutcome = { agentId: repo.agentId, action: 'none', calls: 0 };
  // Idle agents (the common case in `pull --all` and watch) cost two file reads, no lock.
  if (!(await needsSync(repo, { ignoreBackoff: true }))) return out;
  for (let pass = 0; pass < 3; pass++) {
    const lock: Lock | undefined = opts.waitMs ? await waitLock(syncLockFile(repo.gitDir), opts.waitMs) : await tryLock(syncLockFile(repo.gitDir));
    if (!lock) {
      if (out.action === 'none') out.action = 'busy';
      return out;
    }
    try {
      await deliverLocked(repo, letta, out, Boolean(opts.markOnly));
    } finally {
      await lock.release();
    }
    if (out.action === 'failed' || opts.markOnly) return out;
    // A trigger that found the lock taken just now left its work to us: look once more.
    const [head, state] = await Promise.all([readRef(repo.gitDir, MAIN), readSyncState(repo.gitDir)]);
    if (!head || head === state.lastSynced) return out;
  }
  return out;
}

/**
 * Whether an agent has a sync to deliver: a pending marker, or main ahead of the last acknowledged commit. A failed
 * sync of the current main waits out its recorded backoff (background retries); `ignoreBackoff` for explicit runs.
 * `knownHead`: main as the caller already read it.
 */
export async function needsSync(repo: AgentRepo, opts: { ignoreBackoff?: boolean; knownHead?: string } = {}): Promise<boolean> {
  const [head, state] = await Promise.all([opts.knownHead ?? readRef(repo.gitDir, MAIN), readSyncState(repo.gitDir)]);
  const p = state.pending;
  if (!opts.ignoreBackoff && p?.retryAfter && p.target === head && Date.parse(p.retryAfter) > Date.now()) return false;
  return Boolean(p) || (head !== undefined && head !== state.lastSynced);
}
