import type { Config } from '../../core/config/schema.js';
import { formatError, UserError } from '../../core/errors.js';
import { git, NETWORK_TIMEOUT_MS } from '../../git/git.js';
import { readSettings, stateDirOf, writeJsonAtomic } from '../../core/settings.js';
import type { AgentRepo } from './discover.js';
import type { LettaClientOptions } from '../letta/letta-api.js';
import { waitLock } from '../../core/lock.js';
import { trace } from '../../core/trace.js';
import { MAIN, readRef, ZERO } from '../../git/refs.js';
import { externalGitEnv, REMOTE_NAME, TRACKING_REF } from '../../git/remote-auth.js';
import { sshProblem } from '../../git/ssh.js';
import { remoteKind } from '../../core/template.js';
import { configuredAuthorization, probeRemoteMain } from '../../git/remote-head.js';
import { type SyncOutcome, syncAgent } from '../letta/sync.js';
import { selfCommand } from '../../core/self-command.js';
import { type ConflictRecord, keepConflict, lastLine, mergeWithExternal } from '../../sync/merge.js';
import { MAX_ROUNDS, planReconcile, PUSH_REJECTED } from '../../sync/plan.js';
import { type PullState, pullLockFile, pullStateFile, readPullState } from '../../sync/state.js';
import { type RecoverOutcome, recoverPushesLocked } from './lost-pushes.js';
import { pushThroughLetta } from '../letta/proxy-push.js';
import { ensureHostRepo } from '../../core/host-repo/ensure.js';
import { looksMissing, missingRepoError } from '../../core/host-repo/missing.js';
import type { LeaseGuard } from '../letta/lease.js';
import { fencedUpdateRef } from '../../git/fenced-ref.js';


export interface PullOutcome {
  agentId: string;
  /** The steps taken, in order (e.g. ['merge', 'push']). */
  steps: string[];
  head?: string;
  remoteHead?: string;
  conflict?: ConflictRecord;
  error?: string;
  sync?: SyncOutcome;
  /** Pushes a server copy-back had overwritten, merged back (lost-pushes.ts). */
  recovered?: RecoverOutcome;
}

/** Test seams: run between the steps, to interleave server copies and client pushes deterministically. */
export interface PullInjections {
  afterFetch?: () => Promise<void>;
  beforeUpdateRef?: () => Promise<void>;
  beforePush?: () => Promise<void>;
}

export interface PullContext {
  config: Config;
  letta: LettaClientOptions;
  env?: NodeJS.ProcessEnv;
  /** Skip the Letta sync (tests of the git side; `pull --no-sync`). */
  noSync?: boolean;
  inject?: PullInjections;
  /**
   * Fetch without probing the external main first (see `unchanged`): a poke or a verified webhook already says it
   * moved, so the probe would only delay the fetch. Periodic pulls leave it unset: most find nothing to fetch.
   */
  alwaysFetch?: boolean;
  /** The agent's lease when replicas share the work (lease.ts): checked before every write, its token fences main. */
  lease?: LeaseGuard;
}

/**
 * The pull lock's stale period for a replica holding the agent's lease: a replica killed with -9 leaves its lock
 * dir, which the next holder takes over after 6 s (the lease itself frees after 5 s). Refreshed every 1.5 s.
 */
const LEASED_LOCK_STALE_MS = 6_000;

/**
 * 'fast-forward': fetched, and git itself found the external main a descendant of the tracking ref as it was (or
 * unchanged), so no merge-base is needed when that was main. 'missing': the host has no such repo (createRepos off);
 * a push may create it.
 */
type Fetched = 'ok' | 'fast-forward' | 'empty' | 'missing';

/** A fetch git refused to apply because the external main was rewritten (the tracking ref would not fast-forward). */
const NOT_FAST_FORWARD = /\[rejected\].*\(non-fast-forward\)/;

async function fetchExternal(repo: AgentRepo, env: Record<string, string>, ctx: PullContext, url: string | undefined, forced = false): Promise<Fetched> {
  // Unforced first: on a pull's hot path (a poke) that saves the merge-base after it; a rewritten host is fetched again.
  // Not --quiet: it would hide the `[rejected] (non-fast-forward)` line that tells the two apart.
  const r = await git(
    ['fetch', '--no-tags', '--no-write-fetch-head', '--no-auto-maintenance', REMOTE_NAME, `${forced ? '+' : ''}refs/heads/main:${TRACKING_REF}`],
    { gitDir: repo.gitDir, env, allowFailure: true, timeoutMs: NETWORK_TIMEOUT_MS },
  );
  if (r.exitCode === 0) return forced ? 'ok' : 'fast-forward';
  if (!forced && NOT_FAST_FORWARD.test(r.stderr)) return fetchExternal(repo, env, ctx, url, true);
  if (/couldn't find remote ref/i.test(r.stderr)) {
    // The external repo has no main yet (a new, empty repo): the server's history seeds it.
    await git(['update-ref', '-d', TRACKING_REF], { gitDir: repo.gitDir, allowFailure: true });
    return 'empty';
  }
  if (/No such remote|does not appear to be a git repository/i.test(r.stderr) && !(await hasRemote(repo))) {
    throw new UserError(`${repo.agentId}: repo.git has no ${REMOTE_NAME} remote`, `run ${selfCommand()} init --server first`);
  }
  const ssh = sshProblem(r.stderr, url ?? '');
  // A path remote is made by hand or by init --local: its own error (below) says so; no host to create it on.
  if (!ssh && url && remoteKind(url) !== 'file' && looksMissing(r.stderr)) {
    // A new agent whose repo nobody made on the host yet: created when createRepos is on (an empty repo: the
    // server's history seeds it). Off: a push may still create it (GitLab's push-to-create); the push's failure
    // names it and how to create it (pushMain; status --server shows it).
    if (!ctx.config.createRepos) {
      await git(['update-ref', '-d', TRACKING_REF], { gitDir: repo.gitDir, allowFailure: true });
      return 'missing';
    }
    await ensureHostRepo(url, ctx.config, ctx.env).catch((err: unknown) => {
      throw err instanceof UserError ? prefixed(repo, err) : err;
    });
    return fetchExternal(repo, env, ctx, undefined);
  }
  throw new UserError(`${repo.agentId}: fetch from the external remote failed: ${ssh?.reason ?? lastLine(r.stderr)}`, ssh?.fix ?? `check the remote URL, the network and the token (${selfCommand()} doctor)`);
}

const prefixed = (repo: AgentRepo, err: UserError) => new UserError(`${repo.agentId}: ${err.message}`, err.fix);

async function hasRemote(repo: AgentRepo): Promise<boolean> {
  const r = await git(['config', '--get', `remote.${REMOTE_NAME}.url`], { gitDir: repo.gitDir, allowFailure: true });
  return r.exitCode === 0;
}

type Pushed = 'ok' | 'rejected';

/** `missing`: the fetch found no such repo, so a failed push names it (missingRepoError). */
async function pushMain(repo: AgentRepo, env: Record<string, string>, url: string | undefined, lease: LeaseGuard | undefined, missing = false): Promise<Pushed> {
  // A replica that lost the lease pushes nothing: the holder's reconcile does it.
  await lease?.check();
  // Never --force: a rejection means the remote moved, and the caller fetches and merges again.
  const r = await git(['push', '--quiet', '--no-verify', REMOTE_NAME, `${MAIN}:refs/heads/main`], { gitDir: repo.gitDir, env, allowFailure: true, timeoutMs: NETWORK_TIMEOUT_MS });
  if (r.exitCode === 0) return 'ok';
  if (PUSH_REJECTED.test(r.stderr)) return 'rejected';
  const ssh = sshProblem(r.stderr, url ?? '');
  if (missing && url && !ssh) throw prefixed(repo, missingRepoError(url, 'server'));
  throw new UserError(`${repo.agentId}: push to the external remote failed: ${ssh?.reason ?? lastLine(r.stderr)}`, ssh?.fix ?? `check write access for the token (${selfCommand()} doctor)`);
}

/** CAS: moves main from `old` to `next` only if it still points at `old` (a server copy may have moved it). */
async function casMain(repo: AgentRepo, next: string, old: string | undefined, why: string, lease: LeaseGuard | undefined): Promise<boolean> {
  if (lease) return fencedMain(repo, next, old, why, lease);
  const r = await git(['update-ref', '-m', `letta-memfs-hooks: ${why}`, MAIN, next, old ?? ZERO], { gitDir: repo.gitDir, allowFailure: true });
  return r.exitCode === 0;
}

/** casMain under a lease: the lease is checked in Redis, then main and the fence ref move in one transaction. */
async function fencedMain(repo: AgentRepo, next: string, old: string | undefined, why: string, lease: LeaseGuard): Promise<boolean> {
  await lease.check();
  const r = await fencedUpdateRef(repo.gitDir, MAIN, next, old, lease.fence, `letta-memfs-hooks: ${why}`);
  if (r === 'ok' || r === 'moved') return r === 'ok';
  // A newer token is recorded: a newer holder wrote (check throws FencedOut), or, if Redis still says the lease is
  // ours, Redis lost its counter (restarted without persistence): raise it past the repo's, and retry next round.
  await lease.check();
  await lease.raiseFence(r.fencedBy);
  throw new UserError(`${repo.agentId}: the lease's fencing token ${lease.fence} is below the one main last moved with (${r.fencedBy}); Redis lost its counter`, 'nothing to do: the counter was raised and the next pull goes through');
}

/**
 * Moves main to `next` (a descendant of `old`); false when main moved meanwhile (fetch and merge again). Patched
 * mode: a CAS update-ref, then the sync-from-git call. Stock mode: a push through Letta's own /v1/git/ (never
 * update-ref behind its back): the service moves main under Letta's lock, the proxy syncs the blocks, and the
 * push's fast-forward-only rule is the CAS (a main that moved no longer has `next` as a descendant).
 */
async function moveMain(repo: AgentRepo, ctx: PullContext, next: string, old: string | undefined, why: string): Promise<boolean> {
  if (ctx.letta.mode !== 'stock') return casMain(repo, next, old, why, ctx.lease);
  // The push through Letta cannot carry our token to git's ref update; the lease is compared right before it.
  await ctx.lease?.check();
  const r = await pushThroughLetta(repo, next, ctx.letta);
  if (r === 'ok') return true;
  if (r === 'rejected') return false;
  throw new UserError(
    `${repo.agentId}: push through Letta's /v1/git/ failed: ${r.error}`,
    `check that Letta has LETTA_MEMFS_SERVICE_URL pointing at ${selfCommand()} serve, and that serve runs (${selfCommand()} doctor --server)`,
  );
}

/**
 * `pull` for one agent: fetch the external main into a remote-tracking ref, then bring main and it together
 * (moveMain: compare-and-swap ref updates in patched mode, pushes through Letta's /v1/git/ in stock mode), push
 * what the server added, and sync Letta (stock mode: only record what Letta now holds). No work tree is needed: the Letta
 * server resets its temp copy to HEAD before each commit (`git reset --hard`, git_operations.py @ 0.16.7
 * `_commit_with_lock`), so repo.git's own index may lag behind main without effect; we leave it alone.
 */
export async function pullAgent(repo: AgentRepo, ctx: PullContext): Promise<PullOutcome> {
  const out: PullOutcome = { agentId: repo.agentId, steps: [] };
  // Under a lease a dead replica's pull lock must not outlast the 10 s failover: judged stale (and refreshed) sooner.
  const lock = await waitLock(pullLockFile(repo.gitDir), 120_000, ctx.lease ? LEASED_LOCK_STALE_MS : undefined);
  if (!lock) throw new UserError(`${repo.agentId}: another pull has held the lock for 2 minutes`, `wait for that pull; a lock whose process died expires by itself (LETTA_MEMFS_LOCK_STALE_SECONDS, default 20)`);
  const state = await readPullState(repo.gitDir);
  try {
    if (!ctx.noSync) await syncAgent(repo, ctx.letta, { markOnly: true });
    out.recovered = await recoverLocked(repo, ctx.letta, state, ctx.lease);
    await reconcile(repo, ctx, out, state);
    state.lastError = undefined;
  } catch (err) {
    // With its fix: pull, watch and status print this line as the way out.
    out.error = err instanceof UserError ? formatError(err) : err instanceof Error ? err.message : String(err);
    state.lastError = { message: out.error, at: new Date().toISOString() };
  } finally {
    state.lastPullAt = new Date().toISOString();
    if (out.head) state.lastWritten = out.head;
    await writeJsonAtomic(pullStateFile(repo.gitDir), state).catch(() => undefined);
    await lock.release();
  }
  if (!ctx.noSync) {
    const fenced = await ctx.lease?.check().then(() => undefined, (err: unknown) => formatError(err));
    if (fenced) out.error ??= fenced;
    else out.sync = await syncAgent(repo, ctx.letta, { waitMs: 30_000 });
    trace('watch.sync.end', repo.agentId);
  }
  return out;
}

async function recoverLocked(repo: AgentRepo, letta: LettaClientOptions, state: PullState, lease?: LeaseGuard): Promise<RecoverOutcome> {
  const r = await recoverPushesLocked(repo, async (commit, userId) => {
    await lease?.check();
    return pushThroughLetta(repo, commit, letta, userId);
  });
  state.conflicts.push(...r.conflicts);
  if (r.error) throw new UserError(`${repo.agentId}: ${r.error}`, 'check that Letta and letta-memfs-hooks serve are up; the push stays recorded and is retried');
  return r;
}

/**
 * The service's check of the pushes it accepted (lost-pushes.ts), under the agent's pull lock; conflicts land in
 * the pull state like a pull's.
 */
export async function recoverPushes(repo: AgentRepo, letta: LettaClientOptions, lease?: LeaseGuard): Promise<RecoverOutcome> {
  const lock = await waitLock(pullLockFile(repo.gitDir), 120_000, lease ? LEASED_LOCK_STALE_MS : undefined);
  if (!lock) throw new UserError(`${repo.agentId}: another pull has held the lock for 2 minutes`, `remove ${pullLockFile(repo.gitDir)} if no letta-memfs-hooks process runs`);
  const state = await readPullState(repo.gitDir);
  const before = state.conflicts.length;
  try {
    return await recoverLocked(repo, letta, state, lease);
  } finally {
    if (state.conflicts.length > before) await writeJsonAtomic(pullStateFile(repo.gitDir), state);
    await lock.release();
  }
}

/** Idle fast path: the external main (asked without git) is main already: nothing to fetch, merge or push. */
async function unchanged(repo: AgentRepo, ctx: PullContext, out: PullOutcome): Promise<boolean> {
  const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
  if (!settings?.remote) return false;
  // No token is read for an ssh remote (it has no probe either: the caller fetches).
  const auth = remoteKind(settings.remote) === 'https' ? await configuredAuthorization(ctx.config, ctx.env) : undefined;
  const probed = await probeRemoteMain(settings.remote, auth);
  if (probed === undefined) return false;
  const [local, tracking] = await Promise.all([readRef(repo.gitDir, MAIN), readRef(repo.gitDir, TRACKING_REF)]);
  if (probed === null || !local || probed !== local) return false;
  // Same commit on both sides; the tracking ref is only missing or stale (first pull after init).
  if (tracking !== local) await git(['update-ref', TRACKING_REF, local], { gitDir: repo.gitDir });
  out.head = local;
  out.remoteHead = tracking;
  return true;
}

async function reconcile(repo: AgentRepo, ctx: PullContext, out: PullOutcome, state: PullState): Promise<void> {
  // The token is offered to the URL init set up for this agent only (remote-auth.ts).
  const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
  const env = externalGitEnv(ctx.config, settings?.remote, ctx.env);
  if (!ctx.alwaysFetch && !ctx.inject && (await unchanged(repo, ctx, out))) return;
  // Where the fetch starts, probe or not (bench/propagation reads it as such).
  trace('watch.probe.end', repo.agentId);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const tracked = await readRef(repo.gitDir, TRACKING_REF);
    const fetched = await fetchExternal(repo, env, ctx, settings?.remote);
    trace('watch.fetch.end', repo.agentId);
    await ctx.inject?.afterFetch?.();
    const local = await readRef(repo.gitDir, MAIN);
    const remote = fetched === 'ok' || fetched === 'fast-forward' ? await readRef(repo.gitDir, TRACKING_REF) : undefined;
    let base: string | undefined;
    // Main as the last reconcile left it (equal to the external main), and the external main only moved forward.
    if (fetched === 'fast-forward' && local && local === tracked) base = local;
    else if (local && remote && local !== remote) {
      const mb = await git(['merge-base', local, remote], { gitDir: repo.gitDir, allowFailure: true });
      base = mb.exitCode === 0 ? mb.stdout : undefined;
    }
    out.head = local;
    out.remoteHead = remote;
    const step = planReconcile({ local, remote, base });
    switch (step) {
      case 'nothing':
      case 'equal':
        return;
      case 'create-main':
      case 'fast-forward': {
        await ctx.inject?.beforeUpdateRef?.();
        if (!(await moveMain(repo, ctx, remote!, local, 'fast-forward to external main'))) continue;
        trace('watch.move.end', repo.agentId);
        out.steps.push(step);
        out.head = remote;
        return;
      }
      case 'seed':
      case 'push': {
        await ctx.inject?.beforePush?.();
        if ((await pushMain(repo, env, settings?.remote, ctx.lease, fetched === 'missing')) === 'rejected') continue;
        out.steps.push(step);
        out.remoteHead = local;
        return;
      }
      case 'merge': {
        const merged = await mergeWithExternal(repo.gitDir, local!, remote!, base, 'Letta server');
        const { commit, paths } = merged;
        const conflict = paths.length > 0 ? await keepConflict(repo.gitDir, local!, remote!, merged) : undefined;
        await ctx.inject?.beforeUpdateRef?.();
        if (!(await moveMain(repo, ctx, commit, local, 'merge server edits'))) continue;
        out.steps.push(paths.length > 0 ? 'conflict-merge' : 'merge');
        out.head = commit;
        if (conflict) {
          state.conflicts.push(conflict);
          out.conflict = conflict;
        }
        await ctx.inject?.beforePush?.();
        if ((await pushMain(repo, env, settings?.remote, ctx.lease, fetched === 'missing')) === 'rejected') continue;
        out.steps.push('push');
        out.remoteHead = commit;
        return;
      }
    }
  }
  throw new UserError(`${repo.agentId}: main or the external remote kept moving for ${MAX_ROUNDS} rounds`, `run ${selfCommand()} pull again; nothing was lost`);
}
