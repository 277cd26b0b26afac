/**
 * The Prometheus metrics `watch` and `serve` export (issue 23), one registry per process. prom-client is loaded only
 * by the chunks of those two commands (test/unit/hot-paths.test.ts): never on a hook or CLI start.
 * Cardinality is bounded whatever the number of agents: labels are outcomes, rules, services and statuses from
 * fixed sets, never an agent id, a path or anything a repo or a request carries. Per-agent state is kept as tallies
 * (tally.ts) that gauges read at scrape time; per-agent detail stays in `status --server --json`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Tally } from './tally.js';

export type Daemon = 'watch' | 'serve';

/** Seconds from a commit arriving to Letta's blocks holding it: sub-second syncs up to retries after an outage. */
const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

/** A counter; with `outcomes`, each starts at 0, so rate() and increase() see the first one. */
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], outcomes: readonly string[] = []) {
  const c = new Counter<L>({ name, help, labelNames, registers: [registry] });
  for (const o of outcomes) c.inc({ [labelNames[0]]: o } as Partial<Record<L, string>>, 0);
  return c;
}

/** A gauge whose value is read at scrape time. */
function readGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

/** What both daemons record: pushes to the external host, mirrors (serve) and pulls (watch) both push. */
function common(registry: Registry) {
  return {
    pushes: counter(registry, 'lmh_pushes_total', 'Pushes of main to the external git host, by outcome (ok, failed)', ['outcome'], ['ok', 'failed']),
    recompiles: counter(registry, 'lmh_recompiles_total', 'Prompt recompiles asked of Letta after system/ changed, by outcome (ok, failed)', ['outcome'], ['ok', 'failed']),
    maintenance: counter(registry, 'lmh_maintenance_runs_total', 'repo.git maintenance passes, by outcome (packed, deleted, busy, none, failed)', ['outcome'], ['packed', 'deleted', 'busy', 'none', 'failed']),
  };
}

export function watchMetrics(registry = new Registry()) {
  const tallies = { agents: new Tally(), pending: new Tally(), conflicts: new Tally(), backoff: new Tally(), loose: new Tally() };
  readGauge(registry, 'lmh_agents', 'Agent repos watched', () => tallies.agents.count);
  readGauge(registry, 'lmh_pending_syncs', 'Agents whose main Letta has not acknowledged yet (sync pending)', () => tallies.pending.count);
  readGauge(registry, 'lmh_conflict_refs', 'Refs under refs/letta-memfs/conflicts/ across all agent repos', () => tallies.conflicts.sum);
  readGauge(registry, 'lmh_backoff_agents', 'Agents whose sync retries back off after a failure (Letta down or refusing)', () => tallies.backoff.count);
  readGauge(registry, 'lmh_repo_loose_objects', 'Loose objects across all repo.git, as last counted after a change', () => tallies.loose.sum);
  readGauge(registry, 'lmh_repo_loose_objects_max', 'Loose objects in the repo.git that has the most', () => tallies.loose.max());
  return {
    registry,
    tallies,
    ...common(registry),
    pulls: counter(registry, 'lmh_pulls_total', 'Pulls (fetch, merge, push, sync) of an agent, by outcome (ok, conflict, failed)', ['outcome'], ['ok', 'conflict', 'failed']),
    syncs: counter(registry, 'lmh_syncs_total', 'sync-from-git deliveries to Letta, by outcome (synced, marked, failed, busy)', ['outcome'], ['synced', 'marked', 'failed', 'busy']),
    hostToBlock: new Histogram({
      name: 'lmh_host_to_block_seconds',
      help: 'From watch learning of a new external commit (webhook, poke, periodic pull) to Letta acknowledging its sync',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export function serveMetrics(registry = new Registry(), queue: { running(): number; waiting(): number } = { running: () => 0, waiting: () => 0 }) {
  const tallies = { mirrorFailing: new Tally() };
  readGauge(registry, 'lmh_mirror_failing_agents', 'Agents whose last mirror to the external host failed (retrying with backoff)', () => tallies.mirrorFailing.count);
  readGauge(registry, 'lmh_serve_backends_running', 'git processes serving requests now', queue.running);
  readGauge(registry, 'lmh_serve_backend_queue_depth', 'Requests waiting for a git process', queue.waiting);
  return {
    registry,
    tallies,
    ...common(registry),
    mirrors: counter(registry, 'lmh_mirrors_total', 'Mirrors of a pushed main to the external host, by outcome (ok, failed)', ['outcome'], ['ok', 'failed']),
    requests: counter(registry, 'lmh_serve_requests_total', 'git smart-HTTP requests, by service (upload-pack, receive-pack, none) and HTTP status', ['service', 'status']),
    refusals: counter(registry, 'lmh_serve_push_refusals_total', 'Pushes refused, by rule', ['rule']),
    pushToBlock: new Histogram({
      name: 'lmh_push_to_block_seconds',
      help: "From a push that changed system/ arriving to Letta's blocks holding it",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export type WatchMetrics = ReturnType<typeof watchMetrics>;
export type ServeMetrics = ReturnType<typeof serveMetrics>;

/** A daemon's registry with the process metrics (memory, CPU, event loop lag, handles) added. */
export function daemonRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
