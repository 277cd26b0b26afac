/**
 * Replicas of `watch` and `serve`: one lease per agent in Letta's own Redis, so any number of them do each agent's
 * work (pull, mirror, push checks, resync, maintenance) one at a time, and a replica that lost the lease cannot
 * move `main` or push.
 *
 * Why Redis and not PostgreSQL advisory locks: Letta's Redis is where its own per-agent commit lock already lives
 * (`memory_repo:lock:<agent>`, redis-lock.ts), so a deployment that can run replicas has it, and we speak to it with
 * the client we already ship. An advisory lock lives as long as the session that took it: a replica would keep one
 * open PostgreSQL connection per agent it works on, its death is noticed only when TCP gives up on the connection
 * (minutes without keepalive tuning, so no 10 s failover), and a lock gives no fencing token; a pooler in
 * transaction mode (pgbouncer) breaks session locks outright. A Redis lease expires by itself after LEASE_TTL_MS.
 *
 * Expiry alone is not safety (a replica paused past its TTL still believes it holds the lease), so every lease
 * carries a fencing token: `INCR letta-memfs-hooks:fence:<agent>`, monotonic per agent, part of the lease value.
 * The writes check it: before a push or a sync the lease is compared in Redis (and renewed), and `main` moves by
 * a ref transaction that also compare-and-swaps `refs/letta-memfs/fence` to the token (git/fenced-ref.ts), which
 * refuses a holder older than the last one that wrote.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import { RELEASE, redisCommand, type RedisTarget } from './redis-lock.js';

export const LEASE_PREFIX = 'letta-memfs-hooks:lease:';
export const FENCE_PREFIX = 'letta-memfs-hooks:fence:';
/**
 * 5 s: a replica killed with -9 holds nothing after at most 5 s, and a waiting one retries every 250 ms, so the
 * work moves within the 10 s the issue allows even with a second of load on top. Renewed every 1.5 s on a fresh
 * connection (a few ms); an event loop stalled over 3.5 s loses the lease, and its next write is refused.
 */
export const LEASE_TTL_MS = 5_000;
export const RENEW_MS = 1_500;

export const leaseKey = (agentId: string) => `${LEASE_PREFIX}${agentId}`;
export const fenceKey = (agentId: string) => `${FENCE_PREFIX}${agentId}`;

// Free: take a new fencing token and hold the lease as `<holder>:<token>`. Held (by anyone): 0.
const ACQUIRE = "if redis.call('exists', KEYS[1]) == 1 then return 0 end local f = redis.call('incr', KEYS[2]) redis.call('set', KEYS[1], ARGV[1] .. ':' .. f, 'PX', ARGV[2]) return f";
// Still ours: extend it (1); lost (expired, taken over): 0.
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
// A fence a repo recorded above the counter (Redis restarted without persistence): raise the counter past it.
const RAISE = "local c = tonumber(redis.call('get', KEYS[1]) or '0') if c < tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]) return 1 end return 0";

/** The lease was lost to another replica (or expired): this replica must not write for the agent. */
export class FencedOut extends UserError {
  constructor(agentId: string, why: string) {
    super(`${agentId}: this replica lost the agent's lease (${why}); its write was refused`, 'nothing to do: the replica holding the lease does the work');
  }
}

/** What the work under a lease holds: its fencing token and the check before each write. */
export interface LeaseGuard {
  readonly agentId: string;
  readonly fence: number;
  /** Resolves while the lease is still ours (and extends it); throws FencedOut when it is not. */
  check(): Promise<void>;
  /** A repo recorded a fence above ours while Redis says we hold the lease: the counter was reset; raise it. */
  raiseFence(seen: number): Promise<void>;
}

export interface LeaseOptions {
  redis: RedisTarget;
  /** Names this process in the lease value (host:pid:random); unique per process. */
  holder?: string;
  ttlMs?: number;
  renewMs?: number;
}

async function evalInt(t: RedisTarget, script: string, keys: string[], args: string[]): Promise<number> {
  const r = await redisCommand(t, ['EVAL', script, String(keys.length), ...keys, ...args]);
  if (r instanceof Error) throw r;
  return Number(r);
}

export class Leases {
  readonly holder: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;

  constructor(private readonly o: LeaseOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.ttlMs = o.ttlMs ?? LEASE_TTL_MS;
    this.renewMs = o.renewMs ?? RENEW_MS;
  }

  /** One try: the new fencing token, or 0 while another holder (or another task of ours) has it. */
  tryAcquire(agentId: string): Promise<number> {
    return evalInt(this.o.redis, ACQUIRE, [leaseKey(agentId), fenceKey(agentId)], [this.holder, String(this.ttlMs)]);
  }

  /**
   * Runs `fn` holding the agent's lease, renewed meanwhile, released after; waits up to `waitMs` while another
   * replica holds it (its work on the same agent ends, or it dies and the lease expires). `{ ran: false }` when
   * it stayed held. A Redis that does not answer throws: no proof of the lease, no work (fail closed).
   */
  async run<T>(agentId: string, fn: (guard: LeaseGuard) => Promise<T>, waitMs: number): Promise<{ ran: true; value: T } | { ran: false }> {
    const end = Date.now() + waitMs;
    let fence = await this.tryAcquire(agentId);
    while (fence === 0) {
      if (Date.now() >= end) return { ran: false };
      await new Promise((r) => setTimeout(r, 250));
      fence = await this.tryAcquire(agentId);
    }
    const token = `${this.holder}:${fence}`;
    let lost: string | undefined;
    const renew = async (): Promise<void> => {
      if (lost) throw new FencedOut(agentId, lost);
      const held = await evalInt(this.o.redis, RENEW, [leaseKey(agentId)], [token, String(this.ttlMs)]);
      if (held !== 1) throw new FencedOut(agentId, (lost = 'it expired or another replica took it'));
    };
    // A failed renewal (Redis slow) is retried at the next beat; the checks before writes are what refuse.
    const timer = setInterval(() => void renew().catch(() => undefined), this.renewMs);
    timer.unref();
    const guard: LeaseGuard = {
      agentId,
      fence,
      check: renew,
      raiseFence: async (seen) => void (await evalInt(this.o.redis, RAISE, [fenceKey(agentId)], [String(seen)])),
    };
    try {
      return { ran: true, value: await fn(guard) };
    } finally {
      clearInterval(timer);
      await redisCommand(this.o.redis, ['EVAL', RELEASE, '1', leaseKey(agentId), token]).catch(() => undefined); // expires anyway
    }
  }
}
