// The one client for Letta's Redis lock (src/server/letta/redis-lock.ts): its settings, and the lock against a real
// redis-server on 127.0.0.1:6379 (serve's use through a push is test/memfs-service/redis-lock.test.ts).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lockKey, parseReply, redisCommand, redisFromEnv, withMemoryRepoLock } from '../../src/server/letta/redis-lock.js';

const REDIS = { host: '127.0.0.1', port: 6379 };

describe('redisFromEnv: LETTA_REDIS_HOST / LETTA_REDIS_PORT as Letta reads them', () => {
  it('no host: no Redis (Letta takes no lock either); a host: port 6379 unless given', () => {
    expect(redisFromEnv({})).toBeUndefined();
    expect(redisFromEnv({ LETTA_REDIS_HOST: '  ' })).toBeUndefined();
    expect(redisFromEnv({ LETTA_REDIS_HOST: 'redis' })).toEqual({ host: 'redis', port: 6379 });
    expect(redisFromEnv({ LETTA_REDIS_HOST: 'redis', LETTA_REDIS_PORT: ' 6380 ' })).toEqual({ host: 'redis', port: 6380 });
    expect(redisFromEnv({ LETTA_REDIS_HOST: 'redis', LETTA_REDIS_PORT: '' })).toEqual({ host: 'redis', port: 6379 });
  });

  it('a set but unusable value is a usage error naming the fix, never a silent run without the lock', () => {
    for (const env of [
      { LETTA_REDIS_HOST: 'redis', LETTA_REDIS_PORT: '70000' },
      { LETTA_REDIS_HOST: 'redis', LETTA_REDIS_PORT: '0x10' },
      { LETTA_REDIS_HOST: 'redis', LETTA_REDIS_PORT: '6379abc' },
      { LETTA_REDIS_HOST: 'red is', LETTA_REDIS_PORT: '6379' },
      { LETTA_REDIS_HOST: 'redis\n--evil' },
    ]) {
      expect(() => redisFromEnv(env), JSON.stringify(env)).toThrow(expect.objectContaining({ exitCode: 2, fix: expect.stringContaining('LETTA_REDIS_HOST=') }));
    }
  });
});

describe('parseReply', () => {
  it('reads simple, error, integer and bulk replies, and waits for an incomplete bulk', () => {
    expect(parseReply(Buffer.from('+OK\r\n'))).toEqual({ value: 'OK', length: 5 });
    expect(parseReply(Buffer.from(':1\r\n'))).toEqual({ value: 1, length: 4 });
    expect(parseReply(Buffer.from('$-1\r\n'))).toEqual({ value: null, length: 5 });
    expect(parseReply(Buffer.from('$5\r\nhel'))).toBeUndefined();
    expect(parseReply(Buffer.from('$5\r\nhello\r\n'))).toEqual({ value: 'hello', length: 11 });
    expect(parseReply(Buffer.from('-ERR nope\r\n'))?.value).toEqual(new Error('ERR nope'));
  });
});

describe('withMemoryRepoLock against a real Redis', () => {
  it('runs under the lock and frees it; held by a Letta commit, it does not run and leaves that lock alone', async () => {
    const agent = `agent-${randomUUID()}`;
    let seen: unknown;
    const r = await withMemoryRepoLock(agent, async () => (seen = await redisCommand(REDIS, ['GET', lockKey(agent)])), REDIS);
    expect(r.acquired).toBe(true);
    expect(String(seen)).toMatch(/^letta-memfs-hooks:/);
    expect(await redisCommand(REDIS, ['EXISTS', lockKey(agent)])).toBe(0);

    expect(await redisCommand(REDIS, ['SET', lockKey(agent), 'letta-commit', 'PX', '60000'])).toBe('OK');
    let ran = false;
    expect(await withMemoryRepoLock(agent, async () => void (ran = true), REDIS)).toEqual({ acquired: false });
    expect(ran).toBe(false);
    expect(await redisCommand(REDIS, ['GET', lockKey(agent)])).toBe('letta-commit');
    await redisCommand(REDIS, ['DEL', lockKey(agent)]);
  });
});
