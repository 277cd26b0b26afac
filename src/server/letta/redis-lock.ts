/**
 * Letta's per-agent commit lock in Redis, the one client for it: serve takes it once a push is checked, while
 * receive-pack moves `main` (released when receive-pack exits), `maintain` takes it around its deletions. A Letta
 * server commit copies repo.git to a temp dir and back, so a write of ours that lands in between is overwritten
 * (facts §6).
 *
 * Same key, value shape and expiry as Letta's: `SET memory_repo:lock:{agent_id} <token> NX PX 60000`, released by
 * compare-and-delete (redis-py's Lock, used by `acquire_memory_repo_lock` in letta/data_sources/redis_client.py;
 * MEMORY_REPO_LOCK_PREFIX and MEMORY_REPO_LOCK_TTL_SECONDS = 60 in letta/constants.py @ 0.16.7). Letta builds its
 * client from LETTA_REDIS_HOST / LETTA_REDIS_PORT (settings.redis_host, redis_port default 6379; db 0, no password).
 *
 * Why a small RESP client over node:net and not ioredis or node-redis: we send two commands (SET NX PX, EVAL), one
 * per fresh connection, and need a fast, definite failure; those libraries bring a reconnect-forever default and an
 * offline queue (a lock request would wait, not fail), and six or more dependencies. ~70 lines with a unit-tested
 * parser cost less.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { UserError } from '../../core/errors.js';

export interface RedisTarget {
  host: string;
  port: number;
}

export const LOCK_PREFIX = 'memory_repo:lock:';
export const LOCK_TTL_MS = 60_000;
/**
 * Our own holds are short (a push's ref update after validation, maintain's deletions): 10 s, not Letta's 60 s, so a
 * serve killed with -9 mid-push (its replica fails over) blocks Letta's commits and other replicas' pushes 10 s at most.
 */
export const OUR_LOCK_TTL_MS = 10_000;
export const lockKey = (agentId: string) => `${LOCK_PREFIX}${agentId}`;

// redis-py's Lock.release (lua) @ redis 5: delete only while the value is still our token.
export const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Letta's Redis, from its own variables; undefined when Letta runs without Redis (then it takes no lock either).
 * A value that is set but not a host and port is a usage error: skipping the lock would let a write of ours race a
 * Letta commit (fail closed).
 */
export function redisFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTarget | undefined {
  const host = env.LETTA_REDIS_HOST?.trim();
  if (!host) return undefined;
  const rawPort = env.LETTA_REDIS_PORT?.trim() || '6379';
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host) || !(port >= 1 && port <= 65535)) {
    throw new UserError('LETTA_REDIS_HOST/LETTA_REDIS_PORT are not a host and port', 'set them as Letta has them, e.g. LETTA_REDIS_HOST=127.0.0.1 LETTA_REDIS_PORT=6379', 2);
  }
  return { host, port };
}

/**
 * `--redis-url redis://host[:port]`: the same Redis as Letta's LETTA_REDIS_HOST/PORT, for a process whose environment
 * does not carry them. No password, user or db: Letta's own client uses none (db 0), and the lock must be Letta's.
 */
export function redisFromUrl(url: string): RedisTarget {
  const m = /^redis:\/\/([A-Za-z0-9._-]{1,253})(?::(\d{1,5}))?\/?$/.exec(url.trim());
  const port = m?.[2] ? Number(m[2]) : 6379;
  if (!m || !(port >= 1 && port <= 65535)) throw new UserError('--redis-url must be redis://host[:port] (no password, user or db: Letta uses db 0 without them)', 'e.g. --redis-url redis://127.0.0.1:6379, the Redis Letta has in LETTA_REDIS_HOST/LETTA_REDIS_PORT', 2);
  return { host: m[1], port };
}

/** Letta's Redis from `--redis-url` when given, else from Letta's own variables; undefined: none. */
export function redisOf(url: string | undefined, env: NodeJS.ProcessEnv = process.env): RedisTarget | undefined {
  return url === undefined ? redisFromEnv(env) : redisFromUrl(url);
}

/** Pure: one RESP request (an array of bulk strings). */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

export type Reply = string | number | null | Error;

/** Pure: the first reply in `buf` (simple, error, integer or bulk) and its length; undefined while incomplete. */
export function parseReply(buf: Buffer): { value: Reply; length: number } | undefined {
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return undefined;
  const head = buf.toString('utf8', 1, eol);
  switch (String.fromCharCode(buf[0])) {
    case '+':
      return { value: head, length: eol + 2 };
    case '-':
      return { value: new Error(head), length: eol + 2 };
    case ':':
      return { value: Number(head), length: eol + 2 };
    case '$': {
      const n = Number(head);
      if (n < 0) return { value: null, length: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + n), length: eol + 2 + n + 2 };
    }
    default:
      return { value: new Error(`unexpected Redis reply ${JSON.stringify(buf.toString('utf8', 0, 20))}`), length: buf.length };
  }
}

/** Sends one command on a fresh connection and returns its reply; rejects on network errors and after `timeoutMs`. */
export function redisCommand(t: RedisTarget, args: readonly string[], timeoutMs = 2_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: t.host, port: t.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: Reply) => {
      sock.destroy();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new Error(`Redis at ${t.host}:${t.port} did not answer in ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('connect', () => sock.write(encodeCommand(args)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const r = parseReply(buf);
      if (r) done(undefined, r.value);
    });
    sock.on('end', () => done(new Error(`Redis at ${t.host}:${t.port} closed the connection without a reply`)));
  });
}

/**
 * Takes the lock, retrying while Letta holds it (its commits take well under a second) for up to `waitMs` (0: one
 * try). true: ours until released or OUR_LOCK_TTL_MS; false: still held by someone else after waitMs, or `stop` fired.
 */
export async function acquireLock(t: RedisTarget, agentId: string, token: string, waitMs: number, stop?: AbortSignal): Promise<boolean> {
  const end = Date.now() + waitMs;
  let delay = 20;
  for (;;) {
    const r = await redisCommand(t, ['SET', lockKey(agentId), token, 'NX', 'PX', String(OUR_LOCK_TTL_MS)]);
    if (r instanceof Error) throw r;
    if (r === 'OK') return true;
    if (Date.now() >= end || stop?.aborted) return false;
    await new Promise((res) => setTimeout(res, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** Releases the lock if (and only if) it still holds our token; true when it did. */
export async function releaseLock(t: RedisTarget, agentId: string, token: string): Promise<boolean> {
  const r = await redisCommand(t, ['EVAL', RELEASE, '1', lockKey(agentId), token]);
  if (r instanceof Error) throw r;
  return r === 1;
}

/**
 * Runs `fn` holding the lock; `{ acquired: false }` without running it when a Letta commit holds it (one try: a
 * commit that finds the lock taken fails with 409, so we hold it only briefly and never queue for it). Without Redis
 * configured it just runs `fn` (there is no lock to share).
 */
export async function withMemoryRepoLock<T>(agentId: string, fn: () => Promise<T>, t: RedisTarget | undefined): Promise<{ acquired: boolean; value?: T }> {
  if (!t) return { acquired: true, value: await fn() };
  const token = `letta-memfs-hooks:${randomBytes(16).toString('hex')}`;
  if (!(await acquireLock(t, agentId, token, 0))) return { acquired: false };
  try {
    return { acquired: true, value: await fn() };
  } finally {
    await releaseLock(t, agentId, token).catch(() => undefined); // expires in 60 s anyway
  }
}
