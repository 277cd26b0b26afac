/**
 * `daemon`: one process for every Letta Code local-backend agent on this machine (local-agents.ts). It sets up agents
 * that are not set up yet (a checkout Letta Code made, or one copied from another machine that has only its
 * metadata) with the remote template, and runs each agent's two-way round (local-sync.ts pullLocal) every interval
 * and soon after a local commit, with a per-agent backoff after failures.
 *
 * Idle cost is the point (many agents, a laptop): an idle round reads the host's main with one request and no git
 * process (git/remote-head.ts probeRemoteMain, with the header `init` stored for the checkout) and compares it with
 * the ref file; only when they differ does the full round start git. Local commits are noticed by watching
 * `.git/refs/heads` (inotify/FSEvents), not by polling.
 */
import { type FSWatcher, watch } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Backoff } from '../../core/backoff.js';
import { formatError, UserError } from '../../core/errors.js';
import { KeyedQueue } from '../../core/keyed-queue.js';
import { selfCommand } from '../../core/self-command.js';
import { readSettings, type Settings, stateDirOf } from '../../core/settings.js';
import { git, resolveRepo } from '../../git/git.js';
import { MAIN, readRef } from '../../git/refs.js';
import { probeRemoteMain } from '../../git/remote-head.js';
import { sharedRecordedRemote } from '../checkouts.js';
import { AUTH_FILE, readAuthHeader } from '../credentials.js';
import { initClient } from '../init-client.js';
import { LOCAL_TRACKING_REF } from '../local-backend.js';
import { type LocalPullOutcome, pullLocal } from '../local-sync.js';
import { findLocalAgents, type LocalAgent } from './local-agents.js';

export type DaemonReason = 'startup' | 'periodic' | 'local-commit' | 'new-agent';

export interface DaemonOptions {
  /** The local backend's storage dir (localBackendDir). */
  storage: string;
  intervalSeconds: number;
  rescanSeconds?: number;
  /** `--remote`: the template new agents are set up with; otherwise the user's config, else the one the set-up agents recorded. */
  remote?: string;
  /** Rounds at once. */
  concurrency?: number;
  /** How long after a change of a checkout's main its round starts (commits in a burst share one round). */
  settleMs?: number;
  log?: (line: string) => void;
}

/** What one agent's round did, for the log, `--once` and tests. */
export interface AgentOutcome extends Partial<LocalPullOutcome> {
  agentId: string;
  reason: DaemonReason;
  setUp?: boolean;
  /** The idle check found both sides at the same commit: no git process ran. */
  idle?: boolean;
  error?: string;
}

interface Entry {
  agent: LocalAgent;
  watcher?: FSWatcher;
  settle?: NodeJS.Timeout;
  /** main as the last round left it: a change of the ref file to anything else is a local commit. */
  lastHead?: string;
  /** Why this agent is skipped (not a local-backend checkout of ours): logged once. */
  skipped?: string;
}

export class LocalDaemon {
  private readonly agents = new Map<string, Entry>();
  private readonly queue: KeyedQueue<DaemonReason>;
  private readonly backoff = new Backoff(5_000, 300_000);
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  /** Every outcome, newest last (bounded); tests read it. */
  readonly outcomes: AgentOutcome[] = [];

  constructor(private readonly opts: DaemonOptions) {
    this.queue = new KeyedQueue((id, reason) => this.runOne(id, reason), opts.concurrency ?? 4);
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  get agentCount(): number {
    return this.agents.size;
  }

  /** Scans (setting up new agents and running a first round for each), then starts the timers. */
  async start(): Promise<void> {
    await this.scan('startup');
    this.timers.push(setInterval(() => this.triggerAll('periodic'), this.opts.intervalSeconds * 1000));
    this.timers.push(setInterval(() => void this.scan('new-agent').catch((e) => this.log(`scan: ${formatError(e)}`)), (this.opts.rescanSeconds ?? 30) * 1000));
  }

  /** One pass without timers (`--once`): scan, a round for every agent, wait for all of them. */
  async cycle(): Promise<AgentOutcome[]> {
    const from = this.outcomes.length;
    await this.scan(undefined);
    this.triggerAll('periodic', true);
    await this.queue.idle();
    return this.outcomes.slice(from);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Stops timers and watchers, then waits for running rounds. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const e of this.agents.values()) {
      e.watcher?.close();
      if (e.settle) clearTimeout(e.settle);
    }
    await this.queue.stop();
  }

  private trigger(agentId: string, reason: DaemonReason): void {
    if (!this.stopping && this.agents.has(agentId)) this.queue.enqueue(agentId, reason);
  }

  /** Periodic rounds skip agents in backoff (a commit's round does not: it is news worth a try). */
  private triggerAll(reason: DaemonReason, force = false): void {
    const now = Date.now();
    for (const id of this.agents.keys()) if (force || this.backoff.due(id, now)) this.trigger(id, reason);
  }

  /** Finds agents not seen yet; `reason` undefined only records them (cycle() triggers every agent itself). */
  private async scan(reason: DaemonReason | undefined): Promise<void> {
    const found = await findLocalAgents(this.opts.storage, new Set([...this.agents].filter(([, e]) => e.agent.hasCheckout).map(([id]) => id)));
    // An agent deleted in Letta Code (checkout and metadata gone) is dropped, not retried for ever.
    const present = new Set(found.map((a) => a.agentId));
    for (const [id, e] of this.agents) {
      if (present.has(id) || this.queue.busy(id)) continue;
      e.watcher?.close();
      if (e.settle) clearTimeout(e.settle);
      this.agents.delete(id);
      this.log(`${id}: gone from ${this.opts.storage}, no longer run`);
    }
    for (const agent of found) {
      const known = this.agents.get(agent.agentId);
      if (known) {
        known.agent = agent;
        continue;
      }
      const e: Entry = { agent };
      this.agents.set(agent.agentId, e);
      if (agent.hasCheckout) this.watchRefs(e);
      if (reason) this.trigger(agent.agentId, reason);
    }
  }

  private watchRefs(e: Entry): void {
    if (e.watcher || this.stopping) return;
    try {
      // git writes main through main.lock and a rename, which the directory watch sees as `main`.
      e.watcher = watch(path.join(e.agent.dir, '.git', 'refs', 'heads'), { persistent: false }, (_event, file) => {
        if (file !== null && file !== 'main') return;
        if (e.settle) clearTimeout(e.settle);
        e.settle = setTimeout(() => void this.onRefChange(e), this.opts.settleMs ?? 1000);
      });
      e.watcher.on('error', () => {
        e.watcher?.close();
        e.watcher = undefined;
      });
    } catch {
      // No refs/heads yet (or no inotify watches left): the periodic round still runs.
      e.watcher = undefined;
    }
  }

  private async onRefChange(e: Entry): Promise<void> {
    e.settle = undefined;
    const head = await readRef(path.join(e.agent.dir, '.git'), MAIN).catch(() => undefined);
    if (head && head !== e.lastHead) this.trigger(e.agent.agentId, 'local-commit');
  }

  private async runOne(agentId: string, reason: DaemonReason): Promise<void> {
    const e = this.agents.get(agentId)!;
    const out: AgentOutcome = { agentId, reason };
    try {
      let settings = await readSettings(stateDirOf(path.join(e.agent.dir, '.git'))).catch(() => undefined);
      if (!settings) {
        settings = await this.setUp(e);
        out.setUp = true;
      }
      if (settings.role !== 'client' || settings.backend !== 'local') {
        if (!e.skipped) this.log(`${agentId}: left alone: its checkout is set up for the ${settings.role} role, not as a local-backend checkout`);
        e.skipped = settings.role;
        return;
      }
      await this.round(e, settings, out);
      this.backoff.succeeded(agentId);
    } catch (err) {
      out.error = formatError(err);
      const delay = this.backoff.failed(agentId);
      out.error += `; next try in ${Math.round(delay / 1000)} s`;
    }
    this.outcomes.push(out);
    if (this.outcomes.length > 1000) this.outcomes.splice(0, this.outcomes.length - 1000);
    const line = describeOutcome(out);
    if (line) this.log(line);
  }

  private async round(e: Entry, settings: Settings, out: AgentOutcome): Promise<void> {
    const gitDir = path.join(e.agent.dir, '.git');
    const local = await readRef(gitDir, MAIN);
    const header = await readAuthHeader(path.join(stateDirOf(gitDir), AUTH_FILE));
    const remote = await probeRemoteMain(settings.remote, header?.replace(/^Authorization: /, ''));
    if (remote && remote === local) {
      // Same commit on both sides. The tracking ref (Letta Code's `memory status` ahead count) may be stale.
      if ((await readRef(gitDir, LOCAL_TRACKING_REF)) !== local) await git(['update-ref', LOCAL_TRACKING_REF, local], { cwd: e.agent.dir });
      out.idle = true;
      out.head = local;
      e.lastHead = local;
      return;
    }
    const repo = await resolveRepo({ cwd: e.agent.dir });
    Object.assign(out, await pullLocal(repo, settings), { reason: out.reason });
    e.lastHead = await readRef(gitDir, MAIN);
  }

  /** `git init` where only the metadata exists, then client init with the template. */
  private async setUp(e: Entry): Promise<Settings> {
    const dir = e.agent.dir;
    if (!e.agent.hasCheckout) {
      const present = await fs.readdir(dir).catch(() => undefined);
      if (present && present.length > 0) throw new UserError(`${dir} exists but is no git checkout`, 'leave it to Letta Code, or move it away');
      await fs.mkdir(dir, { recursive: true });
      // As Letta Code's initializeLocalMemoryRepo does; with no commit, it then adopts what the first round brings.
      await git(['init', '--quiet', '--initial-branch=main'], { cwd: dir });
      e.agent = { ...e.agent, hasCheckout: true };
    }
    const recorded = this.opts.remote ? undefined : await sharedRecordedRemote([...this.agents.values()].map((x) => x.agent).filter((a) => a.hasCheckout));
    const r = await initClient({ repoDir: dir, yes: true, verify: true, flags: { remote: this.opts.remote }, fallbackRemote: recorded }).catch((err) => {
      throw new UserError(`cannot set up: ${err instanceof UserError ? err.message : formatError(err)}`, err instanceof UserError ? err.fix : `run ${selfCommand()} init in ${dir}`);
    });
    this.watchRefs(e);
    const settings = await readSettings(stateDirOf(r.repo.commonDir));
    if (!settings) throw new UserError(`init left no settings in ${dir}`, `run ${selfCommand()} init in ${dir}`);
    return settings;
  }
}

/** Pure: the log line for an outcome, or undefined when nothing happened (an idle round). */
export function describeOutcome(o: AgentOutcome): string | undefined {
  const parts: string[] = [];
  if (o.setUp) parts.push('set up');
  if (o.steps && o.steps.length > 0) parts.push(o.steps.join('+'));
  if (o.conflict) parts.push(`CONFLICT in ${o.conflict.paths.join(', ')}, this checkout's side kept in ${o.conflict.ref}`);
  if (o.deferred) parts.push(`not merged yet: ${o.deferred}`);
  if (o.error) parts.push(`error: ${o.error}`);
  return parts.length > 0 ? `${o.agentId} (${o.reason}): ${parts.join('; ')}` : undefined;
}
