/** The metrics registry (src/server/metrics/): outcome mapping, tallies, bounded cardinality, and the /metrics route. */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTotalServer } from '../../src/core/http/index.js';
import { metricsOnlyHandler } from '../../src/server/metrics/endpoint.js';
import { pullCounts, recordMirror, recordPull } from '../../src/server/metrics/record.js';
import { serveMetrics, watchMetrics } from '../../src/server/metrics/registry.js';
import { Tally } from '../../src/server/metrics/tally.js';
import type { PullOutcome } from '../../src/server/repo/pull.js';
import { parseScrape } from '../helpers/daemon.js';

const ID = 'agent-00000000-0000-4000-8000-000000000001';
const agent = (i: number) => `agent-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe('pullCounts', () => {
  it('maps a pull outcome to the label values counted', () => {
    const ff: PullOutcome = { agentId: ID, steps: ['fast-forward'], sync: { agentId: ID, action: 'synced', recompile: true, calls: 1 } };
    expect(pullCounts(ff)).toEqual({ pull: 'ok', pushes: { ok: 0, failed: 0 }, sync: 'synced', recompile: 'ok', hostToBlock: true });
    const out: PullOutcome = { agentId: ID, steps: ['push'], sync: { agentId: ID, action: 'marked', calls: 0 } };
    expect(pullCounts(out)).toEqual({ pull: 'ok', pushes: { ok: 1, failed: 0 }, sync: 'marked', recompile: undefined, hostToBlock: false });
    const merged: PullOutcome = { agentId: ID, steps: ['conflict-merge', 'push'], conflict: { ref: 'refs/letta-memfs/conflicts/1', paths: [], server: 'a', external: 'b', at: '' } as never };
    expect(pullCounts(merged)).toMatchObject({ pull: 'conflict', pushes: { ok: 1, failed: 0 }, sync: undefined, hostToBlock: false });
    const down: PullOutcome = { agentId: ID, steps: [], error: `${ID}: push to the external remote failed: 403 (fix: ...)`, sync: { agentId: ID, action: 'failed', recompile: true, calls: 3 } };
    expect(pullCounts(down)).toEqual({ pull: 'failed', pushes: { ok: 0, failed: 1 }, sync: 'failed', recompile: 'failed', hostToBlock: false });
    expect(pullCounts({ agentId: ID, steps: [], sync: { agentId: ID, action: 'none', calls: 0 } }).sync).toBeUndefined();
    // Stock mode: the move through Letta's proxy is the sync; what Letta then holds is only recorded ('marked').
    const stock: PullOutcome = { agentId: ID, steps: ['fast-forward'], sync: { agentId: ID, action: 'marked', calls: 0 } };
    expect([pullCounts(stock, true).hostToBlock, pullCounts(stock).hostToBlock, pullCounts({ ...stock, error: 'x' }, true).hostToBlock]).toEqual([true, false, false]);
  });
});

describe('Tally', () => {
  it('sums, counts and takes the max of per-agent values; 0 forgets an agent', () => {
    const t = new Tally();
    t.set('a', 3);
    t.set('b', 7);
    t.set('a', 1);
    expect([t.sum, t.count, t.max()]).toEqual([8, 2, 7]);
    t.set('b', 0);
    t.set('c', true);
    expect([t.sum, t.count, t.max()]).toEqual([2, 2, 1]);
  });
});

describe('registries', () => {
  it('10,000 agents leave the series count unchanged: no agent id in any label', async () => {
    const m = watchMetrics();
    const series = async () => [...parseScrape(await m.registry.metrics()).keys()];
    recordPull(m, { agentId: agent(0), steps: ['fast-forward'], sync: { agentId: agent(0), action: 'synced', recompile: true, calls: 1 } }, { pull: true, learnedAtMs: Date.now() - 500 });
    const one = await series();
    for (let i = 1; i < 10_000; i++) {
      m.tallies.agents.set(agent(i), 1);
      m.tallies.loose.set(agent(i), i % 300);
      m.tallies.conflicts.set(agent(i), i % 1000 === 0 ? 1 : 0);
      recordPull(m, { agentId: agent(i), steps: i % 2 ? ['push'] : ['fast-forward'], sync: { agentId: agent(i), action: i % 3 ? 'synced' : 'failed', calls: 1 } }, { pull: true, learnedAtMs: Date.now() - i });
    }
    const text = await m.registry.metrics();
    expect((await series()).length).toBe(one.length);
    expect(text).not.toMatch(/agent-/);
    const at = parseScrape(text);
    expect(at.get('lmh_pulls_total{outcome="ok"}')).toBe(10_000);
    expect(at.get('lmh_pending_syncs')).toBe(3333);
    expect(at.get('lmh_conflict_refs')).toBe(9);
    expect(at.get('lmh_repo_loose_objects_max')).toBe(299);
    expect(at.get('lmh_agents')).toBe(9_999);
  });

  it('a failed mirror is a failing agent until its next mirror succeeds', async () => {
    const m = serveMetrics();
    recordMirror(m, { agentId: ID, steps: [], error: `${ID}: push to the external remote failed: down` });
    expect(parseScrape(await m.registry.metrics()).get('lmh_mirror_failing_agents')).toBe(1);
    recordMirror(m, { agentId: ID, steps: ['push'] });
    const at = parseScrape(await m.registry.metrics());
    expect([at.get('lmh_mirror_failing_agents'), at.get('lmh_mirrors_total{outcome="failed"}'), at.get('lmh_pushes_total{outcome="ok"}'), at.get('lmh_pushes_total{outcome="failed"}')]).toEqual([0, 1, 1, 1]);
  });
});

describe("serve's metrics listener", () => {
  it('answers GET and HEAD /metrics, 405 to other methods, 404 to any other path', async () => {
    const m = serveMetrics();
    const server = createTotalServer(metricsOnlyHandler(m.registry), { log: () => undefined });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const get = await fetch(`${base}/metrics?x=1`);
      expect(get.status).toBe(200);
      expect(await get.text()).toContain('# TYPE lmh_serve_requests_total counter');
      expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
      expect((await fetch(`${base}/metrics`, { method: 'DELETE' })).status).toBe(405);
      const other = await fetch(`${base}/secret/git/x/state.git/info/refs`);
      expect(other.status).toBe(404);
      expect(await other.json()).toEqual({ error: 'unknown path', fix: 'GET /metrics' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
