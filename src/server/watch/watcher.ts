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
import { MAIN, readRef } from '../../git/refs.js';
import { needsSync, syncAgent } from '../letta/sync.js';
import { maintainIfNeeded } from '../repo/maintain-repo.js';
import { DEFAULT_POLICY, type MaintenancePolicy } from '../repo/maintenance.js';
import { watchHandler } from './endpoint.js';

export type TriggerReason = 'startup' | 'periodic' | 'local-move' | 'webhook' | 'poke' | 'pending' | 'new-agent' | 'maintain';

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
  log?: (line: string) => void;
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

  constructor(private readonly opts: WatchOptions) {
    this.queue = new KeyedQueue((id, reason) => this.runOne(id, reason), opts.concurrency ?? 4);
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
          await initAgent(repo, this.opts.ctx.config, this.opts.node);
          this.log(`${repo.agentId}: new agent repo set up`);
        } catch (err) {
          this.log(`${repo.agentId}: cannot set up: ${formatError(err)}`);
          continue;
        }
        this.report.newAgents++;
        this.agents.set(repo.agentId, { repo, lastSeen: await readRef(repo.gitDir, MAIN) });
        this.trigger(repo.agentId, 'new-agent');
        continue;
      }
      this.agents.set(repo.agentId, { repo, lastSeen: await readRef(repo.gitDir, MAIN) });
      if (startup) this.trigger(repo.agentId, 'startup');
    }
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
        if (this.syncBackoff.due(e.repo.agentId, now) && (await needsSync(e.repo, { knownHead: head }).catch(() => false))) this.trigger(e.repo.agentId, 'pending');
      },
    );
  }

  private async runOne(agentId: string, reason: TriggerReason): Promise<void> {
    const e = this.agents.get(agentId)!;
    if (reason === 'maintain') return this.maintain(e, true);
    trace(`watch.pull.start.${reason}`, agentId);
    let o: PullOutcome;
    try {
      o = reason === 'pending' ? await this.syncOnly(e) : await pullAgent(e.repo, { config: this.opts.ctx.config, letta: this.opts.ctx.letta });
    } catch (err) {
      o = { agentId, steps: [], error: formatError(err) };
    }
    trace('watch.pull.end', agentId);
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
    if (o.steps.length > 0 || o.error || o.conflict || (o.sync && o.sync.action !== 'none')) {
      const what = [o.steps.join('+') || 'no git change', o.conflict ? `CONFLICT kept in ${o.conflict.ref}` : '', o.sync?.action !== 'none' && o.sync ? `sync ${o.sync.action}${o.sync.error ? `: ${o.sync.error}` : ''}` : '', o.error ? `error: ${o.error}` : '']
        .filter(Boolean)
        .join('; ');
      this.log(`${agentId} (${reason}): ${what}`);
    }
    // Every push and server edit adds loose objects (gc.auto=0): check the busy repos, in the same per-agent slot.
    if (o.steps.length > 0 || reason === 'startup' || reason === 'new-agent') await this.maintain(e, false);
  }

  private async maintain(e: Entry, due: boolean): Promise<void> {
    const policy = this.opts.maintenance ?? DEFAULT_POLICY;
    if (policy === false) return;
    try {
      const r = await maintainIfNeeded(e.repo, policy, due);
      e.maintainAt = r.dueAtMs;
      if (r.summary) this.log(`${e.repo.agentId} (maintenance): ${r.summary}`);
    } catch (err) {
      e.maintainAt = Date.now() + 60_000;
      this.log(`${e.repo.agentId} (maintenance): ${formatError(err)}`);
    }
  }

  private async syncOnly(e: Entry): Promise<PullOutcome> {
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
