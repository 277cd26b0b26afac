import { Backoff } from '../../core/backoff.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import { mapLimit } from '../../core/map-limit.js';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTotalServer, type ListenAddress, type ListenNames, listenOrFail } from '../../core/http/index.js';
import { formatError } from '../../core/errors.js';
import { trace } from '../../core/trace.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import type { ServerContext } from '../setup/context.js';
import { type AgentRepo, discoverAgents, noAgentsYetLine } from '../repo/discover.js';
import { initAgent } from '../setup/init-server.js';
import { type PullOutcome, pullAgent } from '../repo/pull.js';
import { countRefs, MAIN, readRef } from '../../git/refs.js';
import { CONFLICT_PREFIX } from '../../sync/merge.js';
import { removeStaleRefLocks } from '../../git/stale-ref-locks.js';
import { REMOTE_NAME } from '../../git/remote-auth.js';
import { needsSync, syncAgent } from '../letta/sync.js';
import { maintainIfNeeded } from '../repo/maintain-repo.js';
import { DEFAULT_POLICY, type MaintenancePolicy } from '../repo/maintenance.js';
import { watchHandler } from './endpoint.js';
import { watchMetrics, type WatchMetrics } from '../metrics/registry.js';
import { recordPull } from '../metrics/record.js';
import type { LeaseGuard, Leases } from '../letta/lease.js';
import type { RedisTarget } from '../letta/redis-lock.js';

/** How long an agent's work waits for the lease another replica holds: longer than a pull, and a lease's expiry. */
const LEASE_WAIT_MS = 30_000;

export type TriggerReason = 'startup' | 'periodic' | 'local-move' | 'webhook' | 'poke' | 'pending' | 'new-agent' | 'maintain';

/** Pure: whether a trigger says the external main moved (a poke, a verified webhook): then pull fetches unprobed. */
export const announcesMove = (reason: TriggerReason): boolean => reason === 'poke' || reason === 'webhook';

/**
 * Pure: the reason a queued run keeps when another trigger coalesces into it. A poke or webhook takes over: its pull
 * skips the probe, and a queued `pending` or `maintain` run (which would not pull) is brought back by the next poll.
 */
export const mergeReasons = (queued: TriggerReason, incoming: TriggerReason): TriggerReason => (announcesMove(incoming) && !announcesMove(queued) ? incoming : queued);

export interface WatchOptions {
  ctx: ServerContext;
  /** Seconds between pulls of every agent (`--interval`). */
  intervalSeconds: number;
  /** How often ref files are polled for server-made commits, and pending syncs looked at. */
  tickMs?: number;
  /** Seconds between scans for new agent repos. */
  rescanSeconds?: number;
  /** Where to serve webhooks and pokes; undefined: no HTTP endpoint. */
  listen?: ListenAddress;
  /** How the user names host and port, for listen errors. */
  listenNames?: ListenNames;
  /** Webhook/poke secret; the endpoint refuses to start without one. */
  secret?: string;
  /** Pulls at once. */
  concurrency?: number;
  /** Node binary for hook shims of newly found agents. */
  node?: string;
  /** repo.git maintenance after pulls that changed it (default thresholds and grace); false: none. */
  maintenance?: MaintenancePolicy | false;
  /** Replicas: each agent's work runs holding its lease in Letta's Redis (lease.ts); undefined: one replica. */
  leases?: Leases;
  /** Letta's Redis, for maintenance's deletions under Letta's commit lock (default: LETTA_REDIS_HOST/PORT). */
  redis?: RedisTarget;
  log?: (line: string) => void;
  /** Where pulls, syncs and repo state are counted, served on the endpoint's /metrics; default: a registry of its own. */
  metrics?: WatchMetrics;
}

/** Counts of one pass, for `--once`, tests and the bench. */
export interface CycleReport {
  agents: number;
  newAgents: number;
  triggered: number;
  pulls: number;
  syncCalls: number;
  errors: number;
  conflicts: number;
}

interface Entry {
  repo: AgentRepo;
  lastSeen?: string;
  /** When maintenance has deletions due (a new pack's grace period ends). */
  maintainAt?: number;
}

/**
 * `watch`: one process for every agent. It notices main moving without a fetch (a Letta server commit: no hook
 * runs, facts file section 1) by polling the ref files, pulls every agent periodically and on webhooks and pokes,
 * retries undelivered syncs, and sets up agent repos created after `init --server`.
 */
export class Watcher {
  private readonly agents = new Map<string, Entry>();
  private readonly queue: KeyedQueue<TriggerReason>;
  /** Failed syncs wait before their retry (Letta down): 1 s, doubling up to a minute. */
  private readonly syncBackoff = new Backoff(1000, 60_000);
  private readonly timers: NodeJS.Timeout[] = [];
  private server?: http.Server;
  private stopping = false;
  /** Set once the first scan is done: until then the endpoint answers 503. */
  private ready = false;
  private report: CycleReport = Watcher.emptyReport();
  /** Every pull outcome, newest last (bounded); tests read it. */
  readonly outcomes: PullOutcome[] = [];
  readonly metrics: WatchMetrics;
  /** When work for a queued agent was first heard of (trigger), for the host-to-block latency. */
  private readonly heardAt = new Map<string, number>();

  constructor(private readonly opts: WatchOptions) {
    this.metrics = opts.metrics ?? watchMetrics();
    this.queue = new KeyedQueue((id, reason) => this.runOne(id, reason), opts.concurrency ?? 4, mergeReasons);
  }

  private static emptyReport(): CycleReport {
    return { agents: 0, newAgents: 0, triggered: 0, pulls: 0, syncCalls: 0, errors: 0, conflicts: 0 };
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  /** The HTTP endpoint's address once listening. */
  get address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /**
   * Listens first (an endpoint that cannot listen fails the start at once, before any work, so the process exits
   * rather than run without it), then scans for agents (setting up new ones) and starts the timers.
   */
  async start(): Promise<void> {
    if (this.opts.listen) await this.listen(this.opts.listen);
    await this.scan(true);
    this.ready = true;
    const tick = this.opts.tickMs ?? 1000;
    this.timers.push(setInterval(() => void this.poll().catch((e) => this.log(`poll: ${formatError(e)}`)), tick));
    this.timers.push(setInterval(() => this.triggerAll('periodic'), this.opts.intervalSeconds * 1000));
    this.timers.push(setInterval(() => void this.scan(false).catch((e) => this.log(`scan: ${formatError(e)}`)), (this.opts.rescanSeconds ?? 30) * 1000));
  }

  /**
   * One pass without timers (`watch --once`): scan, poll refs, retry pending syncs, optionally pull every agent,
   * and wait until all of it is done.
   */
  async cycle(opts: { pullAll?: boolean } = {}): Promise<CycleReport> {
    this.report = Watcher.emptyReport();
    await this.scan(false);
    if (opts.pullAll) this.triggerAll('periodic');
    await this.poll();
    await this.idle();
    const r = { ...this.report, agents: this.agents.size };
    this.report = Watcher.emptyReport();
    return r;
  }

  /** Resolves when no pull is queued or running. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Queues a pull of one agent; triggers for an agent already queued coalesce. */
  trigger(agentId: string, reason: TriggerReason): boolean {
    if (this.stopping || !this.agents.has(agentId)) return false;
    // The periodic pull of an agent whose pull is running now (a new agent's first one) would only repeat it; a
    // webhook or poke during a pull still queues one more, since it may announce a commit that pull did not see.
    if (reason === 'periodic' && this.queue.isRunning(agentId)) return true;
    if (this.queue.enqueue(agentId, reason)) this.report.triggered++;
    if (!this.heardAt.has(agentId)) this.heardAt.set(agentId, Date.now());
    return true;
  }

  private triggerAll(reason: TriggerReason): void {
    for (const id of this.agents.keys()) this.trigger(id, reason);
  }

  private async scan(startup: boolean): Promise<void> {
    // One scan at a time: a slow one (a loaded machine, many agents) overlapping the next would set a new agent up twice.
    if (this.scanning) return this.scanning;
    this.scanning = this.scanOnce(startup).finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private scanning: Promise<void> | undefined;

  private async scanOnce(startup: boolean): Promise<void> {
    const { repos, noRepositoryYet } = await discoverAgents(this.opts.ctx.memfsRoot);
    if (startup && noRepositoryYet) this.log(noAgentsYetLine(noRepositoryYet));
    for (const repo of repos) {
      if (this.agents.has(repo.agentId)) continue;
      const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
      if (!settings || settings.role !== 'server') {
        try {
          const a = await initAgent(repo, this.opts.ctx.config, this.opts.node);
          this.log(`${repo.agentId}: new agent repo set up${a.hostRepo === 'created' ? `; created ${a.remote} on the host` : ''}`);
        } catch (err) {
          this.log(`${repo.agentId}: cannot set up: ${formatError(err)}`);
          continue;
        }
        this.report.newAgents++;
        await this.add(repo);
        this.trigger(repo.agentId, 'new-agent');
        continue;
      }
      await this.add(repo);
      if (startup) this.trigger(repo.agentId, 'startup');
    }
  }

  private async add(repo: AgentRepo): Promise<void> {
    this.agents.set(repo.agentId, { repo, lastSeen: await readRef(repo.gitDir, MAIN) });
    this.metrics.tallies.agents.set(repo.agentId, 1);
    await this.countConflicts(repo);
  }

  /** Conflict refs are kept by pulls and removed by people: counted again after each pull (a directory listing). */
  private async countConflicts(repo: AgentRepo): Promise<void> {
    this.metrics.tallies.conflicts.set(repo.agentId, await countRefs(repo.gitDir, CONFLICT_PREFIX).catch(() => 0));
  }

  /** Reads every main ref file (no git process): a change we did not make is a server commit to push out. */
  private async poll(): Promise<void> {
    const now = Date.now();
    // A bounded number of file reads at a time: 1,000 agents at once would only inflate memory (RSS goal 150 MB).
    await mapLimit([...this.agents.values()], 32, async (e) => {
        if (this.queue.busy(e.repo.agentId)) return;
        const head = await readRef(e.repo.gitDir, MAIN).catch(() => undefined);
        // An unreadable ref (the server rewrites it in place: storage/local.py upload_bytes) is looked at next tick.
        if (head && head !== e.lastSeen) {
          this.trigger(e.repo.agentId, 'local-move');
          return;
        }
        if (e.maintainAt !== undefined && now >= e.maintainAt) {
          this.trigger(e.repo.agentId, 'maintain');
          return;
        }
        if (this.syncBackoff.due(e.repo.agentId, now) && (await needsSync(e.repo, { knownHead: head }).catch(() => false))) {
          this.metrics.tallies.pending.set(e.repo.agentId, 1);
          this.trigger(e.repo.agentId, 'pending');
        }
      },
    );
  }

  /**
   * With replicas, an agent's work waits while another replica holds its lease (doing the same reconcile), then
   * runs: a webhook or poke that reached this replica mid-way through the other's pull is not lost. Given up after
   * LEASE_WAIT_MS: the trigger's cause (a moved ref, a periodic pull) brings it back.
   */
  private async runOne(agentId: string, reason: TriggerReason): Promise<void> {
    const leases = this.opts.leases;
    if (!leases) return this.work(agentId, reason);
    try {
      const r = await leases.run(agentId, (lease) => this.work(agentId, reason, lease), LEASE_WAIT_MS);
      if (!r.ran) this.log(`${agentId} (${reason}): another replica held the agent's lease for ${LEASE_WAIT_MS / 1000} s; left to it`);
    } catch (err) {
      this.report.errors++;
      this.log(`${agentId} (${reason}): no lease, nothing done (Letta's Redis: ${formatError(err)})`);
    }
  }

  private async work(agentId: string, reason: TriggerReason, lease?: LeaseGuard): Promise<void> {
    const e = this.agents.get(agentId)!;
    const heardAt = this.heardAt.get(agentId);
    this.heardAt.delete(agentId);
    if (reason === 'maintain') return this.maintain(e, true);
    const stale = await removeStaleRefLocks(e.repo.gitDir).catch(() => []);
    if (stale.length > 0) this.log(`${agentId}: removed ${stale.join(', ')} left by a killed git`);
    trace(`watch.pull.start.${reason}`, agentId);
    let o: PullOutcome;
    try {
      o = reason === 'pending' ? await this.syncOnly(e, lease) : await pullAgent(e.repo, { config: this.opts.ctx.config, letta: this.opts.ctx.letta, lease, alwaysFetch: announcesMove(reason) });
    } catch (err) {
      o = { agentId, steps: [], error: formatError(err) };
    }
    trace('watch.pull.end', agentId);
    if (o.error?.includes(`has no ${REMOTE_NAME} remote`)) await this.repair(e);
    this.report.pulls += reason === 'pending' ? 0 : 1;
    this.report.syncCalls += o.sync?.calls ?? 0;
    if (o.error) this.report.errors++;
    if (o.conflict) this.report.conflicts++;
    this.outcomes.push(o);
    if (this.outcomes.length > 1000) this.outcomes.splice(0, this.outcomes.length - 1000);
    // What this pull left main at, not main now: a server commit that landed during the pull is still a change
    // the next poll must see.
    if (o.head) e.lastSeen = o.head;
    if (o.sync?.action === 'failed') this.syncBackoff.failed(agentId);
    else if (o.sync && o.sync.action !== 'busy') this.syncBackoff.succeeded(agentId);
    recordPull(this.metrics, o, { pull: reason !== 'pending', learnedAtMs: heardAt, stock: this.opts.ctx.letta.mode === 'stock' });
    this.metrics.tallies.backoff.set(agentId, this.syncBackoff.retryAt(agentId) !== undefined);
    await this.countConflicts(e.repo);
    if (o.steps.length > 0 || o.error || o.conflict || (o.sync && o.sync.action !== 'none')) {
      // The commits it left, for an operator (and the replica fault test) to tell which push did what; not on a
      // failed round, whose line must stay the same for every agent so that a shared cause folds (log-coalesce.ts).
      const failed = o.error !== undefined || o.sync?.action === 'failed';
      const at = o.steps.length > 0 && !failed ? `main ${o.head?.slice(0, 12) ?? '-'}, external ${o.remoteHead?.slice(0, 12) ?? '-'}` : '';
      const what = [o.steps.join('+') || 'no git change', at, o.conflict ? `CONFLICT kept in ${o.conflict.ref}` : '', o.sync?.action !== 'none' && o.sync ? `sync ${o.sync.action}${o.sync.error ? `: ${o.sync.error}` : ''}` : '', o.error ? `error: ${o.error}` : '']
        .filter(Boolean)
        .join('; ');
      this.log(`${agentId} (${reason}): ${what}`);
    }
    // Every push and server edit adds loose objects (gc.auto=0): check the busy repos, in the same per-agent slot.
    if (o.steps.length > 0 || reason === 'startup' || reason === 'new-agent') await this.maintain(e, false);
  }

  /**
   * A repo set up for the server role whose config lost the include of our settings (seen once under the replica
   * fault test: a Letta copy-back wrote repo.git/config without it): set it up again, then pull once more.
   */
  private async repair(e: Entry): Promise<void> {
    const settings = await readSettings(stateDirOf(e.repo.gitDir)).catch(() => undefined);
    if (settings?.role !== 'server') return;
    try {
      await initAgent(e.repo, this.opts.ctx.config, this.opts.node);
      this.log(`${e.repo.agentId}: repo.git/config had lost our settings' include; set up again`);
      this.trigger(e.repo.agentId, 'new-agent');
    } catch (err) {
      this.log(`${e.repo.agentId}: cannot set up again: ${formatError(err)}`);
    }
  }

  private async maintain(e: Entry, due: boolean): Promise<void> {
    const policy = this.opts.maintenance ?? DEFAULT_POLICY;
    if (policy === false) return;
    try {
      const r = await maintainIfNeeded(e.repo, policy, due, this.opts.redis);
      e.maintainAt = r.dueAtMs;
      this.metrics.tallies.loose.set(e.repo.agentId, r.loose);
      if (r.outcome) this.metrics.maintenance.inc({ outcome: r.outcome });
      if (r.summary) this.log(`${e.repo.agentId} (maintenance): ${r.summary}`);
    } catch (err) {
      e.maintainAt = Date.now() + 60_000;
      this.metrics.maintenance.inc({ outcome: 'failed' });
      this.log(`${e.repo.agentId} (maintenance): ${formatError(err)}`);
    }
  }

  private async syncOnly(e: Entry, lease?: LeaseGuard): Promise<PullOutcome> {
    await lease?.check();
    const sync = await syncAgent(e.repo, this.opts.ctx.letta);
    return { agentId: e.repo.agentId, steps: [], sync };
  }

  private async listen(addr: ListenAddress): Promise<void> {
    const secret = this.opts.secret;
    if (!secret) throw new Error('no webhook secret');
    const handler = watchHandler({
      secret,
      template: this.opts.ctx.config.remote ?? '',
      ready: () => this.ready,
      agents: () => [...this.agents.keys()],
      trigger: (id, reason) => this.trigger(id, reason),
      metrics: this.metrics.registry,
    });
    const server = createTotalServer(handler, { log: (line) => this.log(line) });
    await listenOrFail(server, addr, this.opts.listenNames ?? { host: 'host', port: 'port' });
    this.server = server;
  }

  /** Stops timers and the endpoint, then waits for running pulls (they finish their ref updates). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const closing = this.server
      ? new Promise<void>((r) => {
          this.server!.close(() => r());
          // A slow or stuck client must not hold up the exit (pulls in flight are awaited below).
          this.server!.closeAllConnections();
        })
      : Promise.resolve();
    await Promise.all([closing, this.queue.stop()]);
  }
}
