/**
 * What the service does after a receive-pack moved an agent's `main`: records the push and checks later that main
 * still contains it (lost-pushes.ts: a Letta server copy-back can overwrite it), and recompiles the prompt when
 * `system/` changed (recompile.ts), and has the new main mirrored to the external host (mirror.ts). Letta's proxy
 * runs its own block sync; once pushes settle we only check it landed and ask for it again if not (resync.ts).
 */
import { formatError } from '../../core/errors.js';
import { trace } from '../../core/trace.js';
import type { LettaClientOptions } from '../letta/letta-api.js';
import type { AgentRepo } from '../repo/discover.js';
import { readPushes, recordPush } from '../repo/lost-pushes.js';
import { recoverPushes } from '../repo/pull.js';
import { MAIN, readRef } from '../../git/refs.js';
import { recompileIfSystemChanged, type Push } from './recompile.js';
import { ensureSynced } from './resync.js';
import type { LeaseGuard, Leases } from '../letta/lease.js';
import type { ServeMetrics } from '../metrics/registry.js';

export interface AfterPushOptions {
  /** Letta, for recompiles and for pushing a lost push back in; without it pushes are only recorded (watch checks). */
  letta?: LettaClientOptions;
  /** First check of a push: longer than a Letta server commit takes (copy, commit, copy back). */
  checkAfterMs: number;
  /** Later checks while records remain (they are kept for KEEP_MS). */
  recheckMs: number;
  /** Main moved (a push, or a lost push merged back): send it to the external host. */
  mirror?: (repo: AgentRepo) => void;
  /** Replicas: the checks run holding the agent's lease, so two serves never merge back or resync the same push. */
  leases?: Leases;
  log: (line: string) => void;
  /** Recompiles and the push-to-block latency are counted here. */
  metrics?: ServeMetrics;
}

const repoOf = (push: Push & { org: string }): AgentRepo => ({ agentId: push.agent, orgId: push.org, gitDir: push.gitDir });

export class AfterPush {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly busy = new Set<Promise<unknown>>();

  constructor(private readonly o: AfterPushOptions) {}

  onPush(push: Push & { org: string }): void {
    this.track(this.handle(push).catch((err) => this.o.log(`${push.agent}: after push: ${formatError(err)}`)));
  }

  private track(p: Promise<unknown>): void {
    this.busy.add(p);
    void p.finally(() => this.busy.delete(p));
  }

  private async handle(push: Push & { org: string }): Promise<void> {
    const after = await readRef(push.gitDir, MAIN);
    if (!after || after === push.before) return;
    await recordPush(push.gitDir, after, push.userId);
    this.o.mirror?.(repoOf(push));
    this.schedule(push, this.o.checkAfterMs);
    if (this.o.letta) {
      const m = this.o.metrics;
      const onSynced = m && push.startedMs !== undefined ? () => m.pushToBlock.observe(Math.max(0, Date.now() - push.startedMs!) / 1000) : undefined;
      trace('serve.recompile.start', push.agent);
      const outcome = await recompileIfSystemChanged(push, { lettaUrl: this.o.letta.baseUrl, password: this.o.letta.password, waitMs: 10_000, log: this.o.log, onSynced });
      trace(`serve.recompile.${outcome}`, push.agent);
      if (outcome === 'recompiled' || outcome === 'failed') m?.recompiles.inc({ outcome: outcome === 'recompiled' ? 'ok' : 'failed' });
      this.o.log(`${push.agent}: after push: ${outcome}`);
    }
  }

  private schedule(push: Push & { org: string }, ms: number): void {
    clearTimeout(this.timers.get(push.agent));
    const timer = setTimeout(() => {
      this.timers.delete(push.agent);
      this.track(this.check(push).catch((err) => this.o.log(`${push.agent}: push check: ${formatError(err)}`)));
    }, ms);
    timer.unref();
    this.timers.set(push.agent, timer);
  }

  private async check(push: Push & { org: string }): Promise<void> {
    if (!this.o.letta) return;
    try {
      if (!this.o.leases) return await this.checkHeld(push);
      const r = await this.o.leases.run(push.agent, (lease) => this.checkHeld(push, lease), 30_000);
      if (!r.ran) this.o.log(`${push.agent}: push check: another replica held the agent's lease for 30 s; checked again later`);
    } finally {
      if ((await readPushes(push.gitDir)).length > 0 && !this.timers.has(push.agent)) this.schedule(push, this.o.recheckMs);
    }
  }

  private async checkHeld(push: Push & { org: string }, lease?: LeaseGuard): Promise<void> {
    const letta = this.o.letta!;
    const repo = repoOf(push);
    const r = await recoverPushes(repo, letta, lease);
    if (r.restored.length > 0) this.o.mirror?.(repo);
    for (const x of r.restored) this.o.log(`${push.agent}: push ${x.oid.slice(0, 12)} was overwritten by a Letta server commit; merged back as ${x.merge.slice(0, 12)}`);
    for (const c of r.conflicts) this.o.log(`${push.agent}: CONFLICT in ${c.paths.join(', ')}: the push's version won, the server's is kept in ${c.ref}`);
    await lease?.check();
    const s = await ensureSynced(push, { lettaUrl: letta.baseUrl, password: letta.password, settleMs: 5_000, waitMs: 15_000 });
    if (s.outcome === 'resynced' || s.outcome === 'failed') this.o.log(`${push.agent}: Letta's blocks did not match main ${(await readRef(push.gitDir, MAIN))?.slice(0, 12)} (${s.labels?.slice(0, 5).join(', ')}); ${s.outcome === 'resynced' ? 'Letta synced again' : 'a sync through its proxy did not fix it'}`);
  }

  /** Stops the timers and waits for running work (a recompile, a check). */
  async stop(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.busy]);
  }
}
