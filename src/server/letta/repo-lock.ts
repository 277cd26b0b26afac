import { randomBytes } from 'node:crypto';
import net from 'node:net';

/**
 * Letta's own per-agent commit lock, so that a step of ours never overlaps a server commit. Same key and semantics
 * as the server (letta/data_sources/redis_client.py `acquire_memory_repo_lock`, letta/constants.py @ 0.16.7): key
 * `memory_repo:lock:{agent_id}`, redis-py `Lock(timeout=60, blocking=False)`, i.e. `SET key token NX PX 60000`,
 * released by a compare-and-delete script. Letta takes it only when Redis is configured (`LETTA_REDIS_HOST`,
 * `LETTA_REDIS_PORT` default 6379, no password setting), and a commit that finds it taken fails with 409: so we
 * hold it only for a few file deletions.
 */
export const LOCK_PREFIX = 'memory_repo:lock:';
const LOCK_TTL_MS = 60_000;
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export interface RedisAddress {
  host: string;
  port: number;
}

/** Where Letta's Redis is, read from the server's own settings variables; undefined: Letta takes no lock either. */
export function redisFromEnv(env: NodeJS.ProcessEnv = process.env): RedisAddress | undefined {
  const host = env.LETTA_REDIS_HOST?.trim();
  if (!host) return undefined;
  const port = Number(env.LETTA_REDIS_PORT ?? 6379);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`LETTA_REDIS_PORT is not a port: ${JSON.stringify(env.LETTA_REDIS_PORT)}`);
  return { host, port };
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const command = (...args: string[]) => `*${args.length}\r\n${args.map(bulk).join('')}`;

/** One request, one reply line (all we send gets a one-line reply: +OK, $-1, :n or -ERR). */
function request(addr: RedisAddress, payload: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(addr.port, addr.host);
    let buf = '';
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`Redis at ${addr.host}:${addr.port} did not answer in ${timeoutMs} ms`)));
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`Redis at ${addr.host}:${addr.port} closed the connection without a reply`))); // no-op after a reply
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      sock.end();
      const line = buf.slice(0, nl);
      if (line.startsWith('-')) reject(new Error(`Redis: ${line.slice(1)}`));
      else resolve(line);
    });
    sock.write(payload);
  });
}

/**
 * Runs `fn` holding Letta's lock for the agent; `{ acquired: false }` without running it when a server commit
 * holds the lock. Without Redis configured it just runs `fn` (there is no lock to share).
 */
export async function withMemoryRepoLock<T>(agentId: string, fn: () => Promise<T>, addr = redisFromEnv()): Promise<{ acquired: boolean; value?: T }> {
  if (!addr) return { acquired: true, value: await fn() };
  const key = `${LOCK_PREFIX}${agentId}`;
  const token = `letta-memfs-hooks:${randomBytes(16).toString('hex')}`;
  if ((await request(addr, command('SET', key, token, 'NX', 'PX', String(LOCK_TTL_MS)))) !== '+OK') return { acquired: false };
  try {
    return { acquired: true, value: await fn() };
  } finally {
    await request(addr, command('EVAL', RELEASE, '1', key, token)).catch(() => undefined); // expires in 60 s anyway
  }
}
