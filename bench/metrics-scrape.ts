// GET /metrics with 10,000 agents (issue 23): the scrape's size and time, next to a floor in the same run.
//
//   npx vite-node bench/metrics-scrape.ts        (npm run bench:metrics)
//   env: BENCH_AGENTS (10000), BENCH_SCRAPES (scrapes timed per case, 50)
//
// watch's registry (src/server/metrics/registry.ts, with the process metrics a running watch adds) fed the way
// watch feeds it for BENCH_AGENTS agents: every agent in the agents, loose-object and conflict tallies, one pull
// each through recordPull (outcomes, pushes, syncs and failures mixed; a host-to-block latency per fast-forward),
// some pending and backing off; serve's registry with every request status and refusal rule counted. Each is
// served by the same route the daemons use (server/metrics/endpoint.ts) on createTotalServer (core/http), and
// scraped over HTTP on 127.0.0.1 BENCH_SCRAPES times after a warm-up: wall time per scrape (request to last byte)
// and bytes. Floor: an empty prom-client registry served and scraped the same way. Goals: < 200 KB, < 100 ms.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createTotalServer } from '../src/core/http/index.js';
import { metricsOnlyHandler } from '../src/server/metrics/endpoint.js';
import { recordPull } from '../src/server/metrics/record.js';
import { daemonRegistry, serveMetrics, watchMetrics } from '../src/server/metrics/registry.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 10_000);
const SCRAPES = Number(process.env.BENCH_SCRAPES ?? 50);
const agent = (i: number) => `agent-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function fedWatch() {
  const m = watchMetrics(daemonRegistry());
  for (let i = 0; i < AGENTS; i++) {
    const id = agent(i);
    m.tallies.agents.set(id, 1);
    m.tallies.loose.set(id, i % 400);
    m.tallies.conflicts.set(id, i % 500 === 0 ? 2 : 0);
    m.tallies.backoff.set(id, i % 97 === 0);
    const steps = i % 3 === 0 ? ['fast-forward'] : i % 3 === 1 ? ['push'] : ['merge', 'push'];
    const action = i % 97 === 0 ? 'failed' : i % 50 === 0 ? 'busy' : 'synced';
    recordPull(
      m,
      { agentId: id, steps, error: i % 211 === 0 ? `${id}: push to the external remote failed: 503` : undefined, sync: { agentId: id, action, recompile: i % 7 === 0, calls: 1 } },
      { pull: true, learnedAtMs: Date.now() - (i % 5000) * 10 },
    );
    if (i % 13 === 0) m.maintenance.inc({ outcome: i % 2 ? 'packed' : 'deleted' });
  }
  return m.registry;
}

function fedServe() {
  const m = serveMetrics(daemonRegistry(), { running: () => 3, waiting: () => 7 });
  for (let i = 0; i < AGENTS; i++) {
    for (const [service, status] of [['upload-pack', '200'], ['receive-pack', '200'], ['receive-pack', '403'], ['upload-pack', '503'], ['none', '404']]) m.requests.inc({ service, status });
    m.refusals.inc({ rule: ['forbidden', 'not-found', 'busy', 'pre-receive', 'too-large', 'timeout'][i % 6] });
    m.mirrors.inc({ outcome: i % 101 === 0 ? 'failed' : 'ok' });
    m.tallies.mirrorFailing.set(agent(i), i % 101 === 0);
    m.pushToBlock.observe((i % 3000) / 1000);
  }
  return m.registry;
}

function get(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => (res.statusCode === 200 ? resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes }) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function measure(name: string, registry: Registry): Promise<{ name: string; bytes: number; median: number; p95: number; max: number }> {
  const server = createTotalServer(metricsOnlyHandler(registry), { log: () => undefined });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  try {
    for (let i = 0; i < 5; i++) await get(url); // warm-up: JIT, first-scrape collectors
    const runs: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < SCRAPES; i++) runs.push(await get(url));
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
    return { name, bytes: runs.at(-1)!.bytes, median: ms[Math.floor(ms.length / 2)], p95: ms[Math.ceil(ms.length * 0.95) - 1], max: ms.at(-1)! };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const t0 = Date.now();
const watchRegistry = fedWatch();
const serveRegistry = fedServe();
const fedMs = Date.now() - t0;
const rows = [await measure('floor: empty prom-client registry', new Registry()), await measure(`watch, ${AGENTS} agents`, watchRegistry), await measure(`serve, ${AGENTS} agents' requests`, serveRegistry)];
const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
process.stdout.write(`GET /metrics over HTTP on 127.0.0.1, ${SCRAPES} scrapes each after 5 warm-up; registries fed in ${fedMs} ms; load average ${load}\n`);
process.stdout.write(`  ${'case'.padEnd(40)} ${'bytes'.padStart(8)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}\n`);
for (const r of rows) process.stdout.write(`  ${r.name.padEnd(40)} ${String(r.bytes).padStart(8)} ${r.median.toFixed(2).padStart(10)} ${r.p95.toFixed(2).padStart(8)} ${r.max.toFixed(2).padStart(8)}\n`);
const worst = rows.slice(1);
const ok = worst.every((r) => r.bytes < 200 * 1024 && r.p95 < 100);
process.stdout.write(`goals (< 200 KB, p95 < 100 ms): ${ok ? 'met' : 'NOT met'}\n`);
process.exitCode = ok ? 0 : 1;
