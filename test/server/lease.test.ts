// Replicas' per-agent lease (src/server/letta/lease.ts) against the real redis-server on 127.0.0.1:6379, and its
// fencing on real repos: a replica whose lease was taken over cannot move main (fenced ref transaction), push to the
// external host or sync; and the ref locks a killed git leaves. Every test uses fresh agent ids, so its keys are its own.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FencedOut, fenceKey, leaseKey, Leases, type LeaseGuard } from '../../src/server/letta/lease.js';
import { redisCommand, redisFromUrl } from '../../src/server/letta/redis-lock.js';
import { FENCE_REF, fencedUpdateRef, recordedFence } from '../../src/git/fenced-ref.js';
import { removeStaleRefLocks, STALE_REF_LOCK_MS } from '../../src/git/stale-ref-locks.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { pullAgent } from '../../src/server/repo/pull.js';
import { serverEdit } from '../fixtures/server-repo.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const REDIS = { host: '127.0.0.1', port: 6379 };
const agentId = () => `agent-${randomUUID()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds the lease inside `run` until `release` is called; resolves `held` with the guard. */
function holdLease(leases: Leases, agent: string) {
  let release!: () => void;
  const until = new Promise<void>((r) => (release = r));
  let held!: (g: LeaseGuard) => void;
  const guard = new Promise<LeaseGuard>((r) => (held = r));
  const done = leases.run(agent, async (g) => {
    held(g);
    await until;
  }, 0);
  return { guard, release, done };
}

describe('the lease in Redis', () => {
  it('one holder at a time; each holder gets a higher fencing token; released on return', async () => {
    const agent = agentId();
    const a = new Leases({ redis: REDIS });
    const b = new Leases({ redis: REDIS });
    const first = holdLease(a, agent);
    const g1 = await first.guard;
    expect(String(await redisCommand(REDIS, ['GET', leaseKey(agent)]))).toBe(`${a.holder}:${g1.fence}`);
    expect(await b.tryAcquire(agent)).toBe(0);
    expect(await b.run(agent, async () => 'ran', 300)).toEqual({ ran: false });
    first.release();
    await first.done;
    expect(await redisCommand(REDIS, ['EXISTS', leaseKey(agent)])).toBe(0);
    const r = await b.run(agent, async (g) => g.fence, 0);
    expect(r).toEqual({ ran: true, value: g1.fence + 1 });
    await redisCommand(REDIS, ['DEL', fenceKey(agent)]);
  });

  it('renewed while the work runs longer than its TTL; a waiting replica gets it once the work ends', async () => {
    const agent = agentId();
    const a = new Leases({ redis: REDIS, ttlMs: 600, renewMs: 150 });
    const b = new Leases({ redis: REDIS, ttlMs: 600, renewMs: 150 });
    const first = holdLease(a, agent);
    await first.guard;
    const waiting = b.run(agent, async () => Date.now(), 10_000);
    await sleep(1_500); // 2.5 TTLs: only renewals keep it
    expect(String(await redisCommand(REDIS, ['GET', leaseKey(agent)]))).toMatch(new RegExp(`^${a.holder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`));
    const releasedAt = Date.now();
    first.release();
    const got = await waiting;
    expect(got.ran).toBe(true);
    expect((got as { value: number }).value - releasedAt).toBeLessThan(1_000);
    await redisCommand(REDIS, ['DEL', fenceKey(agent)]);
  });

  it('a holder that died (never renews, never releases) loses it after the TTL: failover within TTL + 250 ms', async () => {
    const agent = agentId();
    const dead = new Leases({ redis: REDIS, ttlMs: 1_000 });
    expect(await dead.tryAcquire(agent)).toBeGreaterThan(0); // then "kill -9": nothing renews or releases it
    const diedAt = Date.now();
    const survivor = new Leases({ redis: REDIS, ttlMs: 1_000 });
    const r = await survivor.run(agent, async () => Date.now() - diedAt, 10_000);
    expect(r.ran).toBe(true);
    const failover = (r as { value: number }).value;
    expect(failover).toBeGreaterThanOrEqual(900);
    expect(failover).toBeLessThan(1_000 + 250 + 500);
    await redisCommand(REDIS, ['DEL', fenceKey(agent)]);
  });

  it('Redis unreachable: no lease, the work does not run (fail closed)', async () => {
    let ran = false;
    await expect(new Leases({ redis: { host: '127.0.0.1', port: 1 } }).run(agentId(), async () => void (ran = true), 1_000)).rejects.toThrow();
    expect(ran).toBe(false);
  });

  it('--redis-url is redis://host[:port] only (Letta uses db 0, no password)', () => {
    expect(redisFromUrl('redis://127.0.0.1:6380')).toEqual({ host: '127.0.0.1', port: 6380 });
    expect(redisFromUrl('redis://redis')).toEqual({ host: 'redis', port: 6379 });
    for (const bad of ['http://redis:6379', 'redis://u:pw@redis:6379', 'redis://redis:6379/2', 'redis://redis:99999', 'redis://red is']) {
      expect(() => redisFromUrl(bad), bad).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });
});

describe('fencing: a replica that lost its lease is refused', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => h.cleanup());

  it('a stalled holder (lease expired, taken over) cannot move main, push or sync; the new holder can', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    expect((await pullAgent(a, { config: h.config, letta: h.lettaOpts })).steps).toEqual(['seed']);
    // A stalled replica: its renewals stop (renewMs far beyond the TTL) while it still runs its work.
    const stale = new Leases({ redis: REDIS, ttlMs: 400, renewMs: 60_000 });
    const fresh = new Leases({ redis: REDIS, ttlMs: 5_000 });
    const held = holdLease(stale, a.agentId);
    const oldGuard = await held.guard;
    await sleep(600);
    // The new holder brings a client commit in under its token, which main's fence ref now records.
    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', 'Name: Grace\n');
    const newer = await fresh.run(a.agentId, (lease) => pullAgent(a, { config: h.config, letta: h.lettaOpts, lease }), 5_000);
    expect(newer.ran && newer.value.steps).toEqual(['fast-forward']);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
    expect((await recordedFence(a.gitDir)).fence).toBe(oldGuard.fence + 1);
    const syncCalls = h.letta.calls.length;

    // The stale replica wakes up: a server edit to push out, a client commit to bring in. Nothing moves.
    await serverEdit(a.gitDir, { label: 'system/persona', content: 'I am helpful\n' });
    const serverMain = await rev(a.gitDir, 'main');
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'c2'), 'notes/x.md', 'x\n');
    const extMain = await rev(h.extPath(a.agentId), 'main');
    const o = await pullAgent(a, { config: h.config, letta: h.lettaOpts, lease: oldGuard, alwaysFetch: true });
    expect(o.error).toMatch(/lost the agent's lease/);
    expect(o.steps).toEqual([]);
    expect(await rev(a.gitDir, 'main')).toBe(serverMain);
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(extMain);
    expect(h.letta.calls.length).toBe(syncCalls);
    await expect(oldGuard.check()).rejects.toBeInstanceOf(FencedOut);

    // Even past the Redis check (a write racing the takeover), git refuses main under the older token.
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', pushed, serverMain, oldGuard.fence, 'stale')).toEqual({ fencedBy: oldGuard.fence + 1 });
    expect(await rev(a.gitDir, 'main')).toBe(serverMain);
    held.release();
    await held.done;
    // The holder of the lease now does the work.
    const next = await fresh.run(a.agentId, (lease) => pullAgent(a, { config: h.config, letta: h.lettaOpts, lease }), 5_000);
    expect(next.ran && next.value.error).toBeUndefined();
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(await rev(a.gitDir, 'main'));
    await redisCommand(REDIS, ['DEL', fenceKey(a.agentId)]);
  });

  it('the fence ref moves with main in one transaction: a newer token recorded meanwhile fails both', async () => {
    const a = await h.addAgent();
    const main = await rev(a.gitDir, 'main');
    const edit = await serverEdit(a.gitDir, { label: 'system/x', content: 'x\n' });
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', main, edit, 3, 'holder 3')).toBe('ok');
    expect(await recordedFence(a.gitDir)).toMatchObject({ fence: 3 });
    // A CAS on main that fails (main moved) is 'moved', and the fence ref stays.
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', edit, edit, 4, 'holder 4, stale old value')).toBe('moved');
    expect(await recordedFence(a.gitDir)).toMatchObject({ fence: 3 });
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', edit, main, 2, 'holder 2')).toEqual({ fencedBy: 3 });
    expect(await rev(a.gitDir, 'main')).toBe(main);
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', edit, main, 4, 'holder 4')).toBe('ok');
    expect(await rev(a.gitDir, FENCE_REF)).toBeTruthy();
  });

  it('Redis lost its counter (restart without persistence): the holder raises it and the next pull goes through', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const leases = new Leases({ redis: REDIS });
    await redisCommand(REDIS, ['SET', fenceKey(a.agentId), '5']); // five holders before this one
    await serverEdit(a.gitDir, { label: 'system/persona', content: 'v1\n' });
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/a.md', 'a\n');
    expect((await leases.run(a.agentId, (lease) => pullAgent(a, { config: h.config, letta: h.lettaOpts, lease }), 5_000)).ran).toBe(true);
    const recorded = (await recordedFence(a.gitDir)).fence;
    expect(recorded).toBe(6);
    await redisCommand(REDIS, ['DEL', fenceKey(a.agentId)]);
    await serverEdit(a.gitDir, { label: 'system/persona', content: 'v2\n' });
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/b.md', 'b\n');
    const refused = await leases.run(a.agentId, (lease) => pullAgent(a, { config: h.config, letta: h.lettaOpts, lease }), 5_000);
    expect(refused.ran && refused.value.error).toMatch(/Redis lost its counter/);
    const again = await leases.run(a.agentId, (lease) => pullAgent(a, { config: h.config, letta: h.lettaOpts, lease }), 5_000);
    expect(again.ran && again.value.error).toBeUndefined();
    expect(again.ran && again.value.steps).toContain('merge');
    expect((await recordedFence(a.gitDir)).fence).toBeGreaterThan(recorded);
    await redisCommand(REDIS, ['DEL', fenceKey(a.agentId)]);
  });
});

describe('ref locks a killed git left', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => h.cleanup());

  it('a HEAD.lock blocks every update of main; one older than 10 s is removed, a fresh one is left alone', async () => {
    const a = await h.addAgent();
    const main = await rev(a.gitDir, 'main');
    const edit = await serverEdit(a.gitDir, { label: 'system/x', content: 'x\n' });
    const lock = path.join(a.gitDir, 'HEAD.lock');
    fs.writeFileSync(lock, ''); // what `git receive-pack` leaves when killed with -9 mid-update
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', main, edit, 1, 'blocked')).toBe('moved');
    expect(await removeStaleRefLocks(a.gitDir)).toEqual([]);
    expect(fs.existsSync(lock)).toBe(true);
    const old = new Date(Date.now() - STALE_REF_LOCK_MS - 1_000);
    fs.utimesSync(lock, old, old);
    expect(await removeStaleRefLocks(a.gitDir)).toEqual(['HEAD.lock']);
    expect(await fencedUpdateRef(a.gitDir, 'refs/heads/main', main, edit, 1, 'unblocked')).toBe('ok');
  });
});
