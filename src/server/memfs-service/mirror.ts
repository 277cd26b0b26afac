/**
 * Mirror after a push through `serve`: receive-pack run by the service never fires repo.git/hooks (it gets our
 * private core.hooksPath), so the reference-transaction path that sends main out does not run. Instead the service
 * runs the same reconcile `watch` runs (pullAgent, without the Letta sync: Letta's proxy synced already), at once
 * rather than at watch's next poll: main goes out, or is merged with an external main that moved meanwhile.
 * Per agent: debounced (a burst of pushes is one mirror), one at a time (the pull lock also keeps watch out),
 * retried with backoff while the external host is down, so a pushed commit always reaches it eventually.
 */
import { formatError } from '../../core/errors.js';
import { git } from '../../git/git.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import type { AgentRepo } from '../repo/discover.js';
import { pullAgent } from '../repo/pull.js';
import { REMOTE_NAME } from '../../git/remote-auth.js';
import type { ServerContext } from '../setup/context.js';
import type { Leases } from '../letta/lease.js';
import type { PullOutcome } from '../repo/pull.js';
import type { ServeMetrics } from '../metrics/registry.js';
import { recordMirror } from '../metrics/record.js';

export interface MirrorOptions {
  ctx: ServerContext;
  env?: NodeJS.ProcessEnv;
  /** Wait this long after a push for more pushes of the same agent. */
  debounceMs: number;
  /** First retry after a failed mirror; doubles up to maxRetryMs. */
  retryMs: number;
  maxRetryMs: number;
  /** Replicas: the mirror runs holding the agent's lease, as watch's pulls do (lease.ts). */
  leases?: Leases;
  log: (line: string) => void;
  /** Mirror outcomes, pushes to the host and agents whose mirror is failing are counted here. */
  metrics?: ServeMetrics;
}

/** How long a mirror waits for the agent's lease while another replica's pull or mirror holds it. */
const LEASE_WAIT_MS = 30_000;

interface Slot {
  repo: AgentRepo;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** A push arrived while a mirror ran: run once more after it. */
  again: boolean;
  retryMs: number;
}

export class Mirror {
  private readonly slots = new Map<string, Slot>();
  /** Agents whose repo cannot be mirrored, noted once each. */
  private readonly noted = new Set<string>();
  private stopped = false;

  constructor(private readonly o: MirrorOptions) {}

  /** Main moved for this agent: mirror it soon. Never throws, never waits. */
  request(repo: AgentRepo): void {
    if (this.stopped) return;
    let s = this.slots.get(repo.agentId);
    if (!s) this.slots.set(repo.agentId, (s = { repo, again: false, retryMs: this.o.retryMs }));
    s.retryMs = this.o.retryMs; // a new push is a new reason to try now, not after a long backoff
    if (s.running) s.again = true;
    else this.arm(s, this.o.debounceMs);
  }

  private arm(s: Slot, ms: number): void {
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.running = this.run(s)
        .catch((err) => this.o.log(`${s.repo.agentId}: mirror: ${formatError(err)}`))
        .finally(() => {
          s.running = undefined;
          if (s.again && !this.stopped) {
            s.again = false;
            this.arm(s, this.o.debounceMs);
          }
        });
    }, ms);
    s.timer.unref();
  }

  private async run(s: Slot): Promise<void> {
    const agent = s.repo.agentId;
    const why = await unmirrored(s.repo.gitDir);
    if (why) {
      if (!this.noted.has(agent)) this.o.log(`${agent}: no mirror to the external host: ${why} (run init --server for it)`);
      this.noted.add(agent);
      return;
    }
    this.noted.delete(agent);
    const o = await this.reconcile(s.repo).catch((err): PullOutcome => ({ agentId: agent, steps: [], error: formatError(err) }));
    if (this.o.metrics) recordMirror(this.o.metrics, o);
    if (o.error) {
      if (!s.again) {
        this.o.log(`${agent}: mirror failed, retrying in ${Math.round(s.retryMs / 1000)} s: ${o.error}`);
        this.arm(s, s.retryMs);
        s.retryMs = Math.min(s.retryMs * 2, this.o.maxRetryMs);
      } else this.o.log(`${agent}: mirror failed, retrying now (pushed again): ${o.error}`);
      return;
    }
    s.retryMs = this.o.retryMs;
    const steps = o.steps.length > 0 ? o.steps.join(', ') : 'already there';
    this.o.log(`${agent}: mirrored main ${o.head?.slice(0, 12) ?? '(none)'} to the external host (${steps})`);
  }

  private async reconcile(repo: AgentRepo): Promise<PullOutcome> {
    const ctx = { config: this.o.ctx.config, letta: this.o.ctx.letta, env: this.o.env, noSync: true };
    if (!this.o.leases) return pullAgent(repo, ctx);
    const r = await this.o.leases.run(repo.agentId, (lease) => pullAgent(repo, { ...ctx, lease }), LEASE_WAIT_MS);
    return r.ran ? r.value : { agentId: repo.agentId, steps: [], error: `another replica held the agent's lease for ${LEASE_WAIT_MS / 1000} s` };
  }

  /** Stops retries and waits for running mirrors; what is not mirrored yet `watch` (or the next push) sends. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.slots.values()) clearTimeout(s.timer);
    await Promise.allSettled([...this.slots.values()].map((s) => s.running));
  }
}

/** Why a repo has nowhere to mirror to, or undefined when it does. */
async function unmirrored(gitDir: string): Promise<string | undefined> {
  const settings = await readSettings(stateDirOf(gitDir)).catch(() => undefined);
  if (settings?.role !== 'server') return 'repo.git is not set up for the server role';
  const r = await git(['config', '--get', `remote.${REMOTE_NAME}.url`], { gitDir, allowFailure: true });
  return r.exitCode === 0 ? undefined : `repo.git has no ${REMOTE_NAME} remote`;
}
