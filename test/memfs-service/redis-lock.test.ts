// serve with Letta's Redis (a real redis-server on 127.0.0.1:6379): a push moves main only while it holds Letta's
// own commit lock, memory_repo:lock:<agent> (letta/data_sources/redis_client.py @ 0.16.7), waiting while a "Letta
// commit" holds it, and releases it afterwards.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { lockKey } from '../../src/server/letta/redis-lock.js';
import { createAgentRepo, gitClient, newAgentId, startService, type Service } from './fixture.js';

const redis = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', ...args], { encoding: 'utf8' }).trim();
let svc: Service;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-redis-');
  svc = await startService({ env: { LETTA_REDIS_HOST: '127.0.0.1', LETTA_REDIS_PORT: '6379' } });
});

afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

describe("memfs service with Letta's Redis", () => {
  it('a push waits while a Letta commit holds the lock, lands once it is released, and leaves the lock free', async () => {
    const agent = newAgentId();
    const gitDir = createAgentRepo(svc.root, agent);
    const before = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
    const dir = `${work.dir}/${agent}`;
    expect((await gitClient(work.dir, ['clone', '-q', svc.base(agent), dir])).code).toBe(0);
    sh(dir, ['commit', '-q', '--allow-empty', '-m', 'while locked']);
    expect(redis('SET', lockKey(agent), 'commit:held-by-letta', 'NX', 'PX', '60000')).toBe('OK');
    const push = gitClient(dir, ['push', 'origin', 'main']);
    await new Promise((r) => setTimeout(r, 1500));
    // Still held by "Letta": main has not moved.
    expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main'])).toBe(before);
    expect(redis('GET', lockKey(agent))).toBe('commit:held-by-letta');
    redis('DEL', lockKey(agent));
    const r = await push;
    expect(r.code, r.err).toBe(0);
    expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main'])).toBe(sh(dir, ['rev-parse', 'HEAD']));
    for (let i = 0; i < 50 && redis('EXISTS', lockKey(agent)) !== '0'; i++) await new Promise((res) => setTimeout(res, 50));
    expect(redis('EXISTS', lockKey(agent))).toBe('0');
    expect(svc.log()).toContain("pushes take Letta's commit lock in Redis at 127.0.0.1:6379");
  });
});
