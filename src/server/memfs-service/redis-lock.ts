/**
 * Letta's per-agent commit lock in Redis, taken by our receive-pack while it moves `main`, so that a push and a
 * Letta server commit never overlap (a server commit copies repo.git to a temp dir and copies it back: a push that
 * lands in between is overwritten, facts §6). Same key, value shape and expiry as Letta's: `SET
 * memory_repo:lock:{agent_id} <token> NX PX 60000`, released by compare-and-delete (redis-py's asyncio Lock, used
 * by `acquire_memory_repo_lock` in letta/data_sources/redis_client.py; MEMORY_REPO_LOCK_PREFIX and
 * MEMORY_REPO_LOCK_TTL_SECONDS = 60 in letta/constants.py @ 0.16.7). Letta builds its client from
 * LETTA_REDIS_HOST / LETTA_REDIS_PORT (settings.redis_host, redis_port default 6379; db 0, no password).
 * A tiny RESP client over node:net: four commands, one at a time, no dependency.
 */
import net from 'node:net';

export interface RedisTarget {
  host: string;
  port: number;
}

export const LOCK_TTL_MS = 60_000;
export const lockKey = (agentId: string) => `memory_repo:lock:${agentId}`;

// redis-py's Lock.release (lua) @ redis 5: delete only while the value is still our token.
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** Letta's Redis, from its own variables; undefined when Letta runs without Redis (then it takes no lock either). */
export function redisFromEnv(env: NodeJS.ProcessEnv): RedisTarget | undefined {
  const host = env.LETTA_REDIS_HOST?.trim();
  if (!host) return undefined;
  const port = Number(env.LETTA_REDIS_PORT?.trim() || 6379);
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
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
    sock.on('end', () => done(new Error('Redis closed the connection')));
  });
}

/**
 * Takes the lock, retrying while Letta holds it (its commits take well under a second) for up to `waitMs`.
 * true: ours until released or LOCK_TTL_MS; false: still held by someone else after waitMs.
 */
export async function acquireLock(t: RedisTarget, agentId: string, token: string, waitMs: number): Promise<boolean> {
  const end = Date.now() + waitMs;
  let delay = 20;
  for (;;) {
    const r = await redisCommand(t, ['SET', lockKey(agentId), token, 'NX', 'PX', String(LOCK_TTL_MS)]);
    if (r instanceof Error) throw r;
    if (r === 'OK') return true;
    if (Date.now() >= end) return false;
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
