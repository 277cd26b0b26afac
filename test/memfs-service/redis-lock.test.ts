// serve with Letta's Redis (a real redis-server on 127.0.0.1:6379): a push moves main only while it holds Letta's
// own commit lock, memory_repo:lock:<agent> (letta/data_sources/redis_client.py @ 0.16.7), waiting while a "Letta
// commit" holds it, and releases it afterwards.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { lockKey } from '../../src/server/letta/redis-lock.js';
import { createAgentRepo, gitClient, newAgentId, ORG, startService, type Service } from './fixture.js';

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

/** A `git push` in a process group of its own (git-remote-http included), which the test can kill; resolves with its exit code. */
function pushing(dir: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn('git', ['-c', `http.extraHeader=X-Organization-Id: ${ORG}`, 'push', 'origin', 'main'], { cwd: dir, stdio: 'ignore', detached: true, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return { child, done: new Promise((res) => child.on('exit', (code) => res(code))) };
}

const receivePacks = (gitDir: string) => execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`receive-pack --stateless-rpc ${gitDir}`));

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) throw new Error(`never: ${what}`);
}

describe('a push waiting for the lock in serve (its pre-receive waiting on the channel)', () => {
  it('whose client goes away never takes the lock once Letta frees it; its channel is removed', async () => {
    const agent = newAgentId();
    const gitDir = createAgentRepo(svc.root, agent);
    const dir = `${work.dir}/${agent}`;
    expect((await gitClient(work.dir, ['clone', '-q', svc.base(agent), dir])).code).toBe(0);
    sh(dir, ['commit', '-q', '--allow-empty', '-m', 'client goes away']);
    expect(redis('SET', lockKey(agent), 'commit:held-by-letta', 'NX', 'PX', '60000')).toBe('OK');
    const p = pushing(dir);
    await until('receive-pack waits in the hook', () => receivePacks(gitDir).length > 0 && fs.readdirSync(`${svc.root}/letta-memfs/serve-hooks/channels`).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-p.child.pid!, 'SIGKILL');
    await p.done;
    await until('receive-pack gone', () => receivePacks(gitDir).length === 0);
    redis('DEL', lockKey(agent));
    // The lock loop retries every 250 ms at most: it would have taken it by now.
    await new Promise((r) => setTimeout(r, 1000));
    expect(redis('EXISTS', lockKey(agent))).toBe('0');
    expect(fs.readdirSync(`${svc.root}/letta-memfs/serve-hooks/channels`)).toEqual([]);
  });

  it('serve killed with -9: the hook sees EOF and refuses, receive-pack exits, main stays; the next serve removes the channel', async () => {
    const own = await startService({ env: { LETTA_REDIS_HOST: '127.0.0.1', LETTA_REDIS_PORT: '6379' } });
    try {
      const agent = newAgentId();
      const gitDir = createAgentRepo(own.root, agent);
      const before = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
      const dir = `${work.dir}/${agent}`;
      expect((await gitClient(work.dir, ['clone', '-q', own.base(agent), dir])).code).toBe(0);
      sh(dir, ['commit', '-q', '--allow-empty', '-m', 'serve dies']);
      expect(redis('SET', lockKey(agent), 'commit:held-by-letta', 'NX', 'PX', '60000')).toBe('OK');
      const p = pushing(dir);
      const channels = `${own.root}/letta-memfs/serve-hooks/channels`;
      await until('receive-pack waits in the hook', () => receivePacks(gitDir).length > 0 && fs.readdirSync(channels).length > 0);
      await new Promise((r) => setTimeout(r, 300));
      own.proc.kill('SIGKILL');
      expect(await p.done).not.toBe(0);
      await until('receive-pack and its hook gone', () => receivePacks(gitDir).length === 0);
      redis('DEL', lockKey(agent));
      expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main'])).toBe(before);
      expect(fs.readdirSync(channels)).toHaveLength(1);
      const again = await startService({ root: own.root });
      await again.stop();
      expect(fs.readdirSync(channels)).toEqual([]);
    } finally {
      await own.stop();
      own.cleanup();
    }
  });
});
