// Push-to-block-updated latency against real letta servers, patched and stock (unpatched, behind our `serve`),
// in one run, each series beside its floor (what Letta and git cost without us), samples interleaved round by round
// so that the load of a shared machine falls on all of them alike; per sample and per series, where the time goes
// (hops from the timestamps our processes append to LETTA_MEMFS_TRACE, src/core/trace.ts).
//
//   npm run build && npx vite-node bench/propagation.ts
//   env: LETTA_VERSION (default 0.16.7)
//        BENCH_SERIES    topology/mode/maintenance list, at most one per topology (default
//                        patched/event/on,host/event/on,direct/push/on); the floors are added by themselves
//        BENCH_WINDOW    rounds measured at the start and at the end (default 30)
//        BENCH_FILLER    rounds between the two windows that grow the agents' histories (default 0)
//        BENCH_FILLER_COMMITS  commits carried by each filler push (default 16; under ~20 keeps a push below git's
//                        unpackLimit, so its objects land loose as a single push's do)
//        BENCH_POLL_INTERVAL (watch --interval, default 2), BENCH_MAINT_GRACE (s, default 60),
//        BENCH_MAINT_EVERY (direct: s between `maintain` runs, default 30)
//
// Each series gets a fresh agent and client checkout. For each push: write system/human.md with a new value,
// commit, then time from the start of `git push` until GET /v1/blocks/{id} returns the new value (polled every
// 10 ms). One round pushes once through every series and its floor, one after the other (rotating who goes first).
// Floors: direct's is `floor` (Letta Code's push to the same stock Letta, whose proxy hands that agent to a bare
// git http-backend: propagation/floor.ts); host's is a plain push to the host plus that round's direct floor;
// patched's is that plain push plus the sample's own fetch and sync-from-git call. Topologies and modes
// (bench/propagation.md says more):
//   patched/event|polling  patched server; client pushes to the external host; `watch` pulls (poked / polling)
//                          and calls the patched sync-from-git endpoint.
//   event                  the client's own pre-push pokes watch (LETTA_MEMFS_POKE_URL), as a user's checkout does
//   direct/push            stock server + `serve`: the client pushes to Letta's /v1/git/ proxy (as Letta Code
//                          does); Letta's own post-push sync updates the block.
//   host/event|polling     stock server + `serve`; client pushes to the external host; `watch` in stock mode pulls
//                          and pushes through Letta's proxy.
// Maintenance off: watch --no-maintain (direct: none); on: watch's own (direct: `maintain` every BENCH_MAINT_EVERY s).
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { startGitHost, type GitHost } from '../test/fixtures/git-host.js';
import { CliProcess } from '../test/e2e/helpers/cli.js';
import { lettaVersion } from '../test/e2e/helpers/env.js';
import { blockFile } from '../test/e2e/helpers/repo.js';
import { Rest } from '../test/e2e/helpers/rest.js';
import { DEFAULT_ORG, freePort, LettaServer } from '../test/e2e/helpers/server.js';
import { prepareLetta, type LettaInstall } from '../test/e2e/helpers/venv.js';
import { agentRepoPath } from '../src/server/repo/discover.js';
import { countObjectFiles, repoFileStats } from '../src/server/repo/maintain-repo.js';
import { type Rig, type RigOptions, type SeriesSpec, type Site, plainHostPush, startRig, type Topology } from './propagation/rigs.js';
import { p50p99, seconds, summary } from './propagation/stats.js';
import { hopName, hops, readTrace, type TraceEvent } from './propagation/breakdown.js';
import { type Front, startFront } from './propagation/floor.js';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const DEFAULT_SERIES = 'patched/event/on,host/event/on,direct/push/on';
const SERIES: SeriesSpec[] = (process.env.BENCH_SERIES ?? DEFAULT_SERIES).split(',').map((s) => {
  const [topology, mode, maintenance] = s.split('/');
  const ok = { patched: ['event', 'polling'], host: ['event', 'polling'], direct: ['push'] }[topology]?.includes(mode) && ['off', 'on'].includes(maintenance);
  if (!ok) throw new Error(`BENCH_SERIES: ${JSON.stringify(s)} is not topology/mode/maintenance (e.g. ${DEFAULT_SERIES})`);
  return { topology, mode, maintenance } as SeriesSpec;
});
// Interleaved: two watches on one memfs root would pull each other's agents.
if (new Set(SERIES.map((s) => s.topology)).size !== SERIES.length) throw new Error('BENCH_SERIES: at most one series per topology (they run interleaved)');
const WINDOW = Number(process.env.BENCH_WINDOW ?? 30);
const FILLER = Number(process.env.BENCH_FILLER ?? 0);
const FILLER_COMMITS = Number(process.env.BENCH_FILLER_COMMITS ?? 16);
const OPTIONS: Omit<RigOptions, 'webhookSecret' | 'lettaKey'> = {
  pollInterval: Number(process.env.BENCH_POLL_INTERVAL ?? 2),
  maintGrace: Number(process.env.BENCH_MAINT_GRACE ?? 60),
  maintEvery: Number(process.env.BENCH_MAINT_EVERY ?? 30),
};
const PER_PUSH_TIMEOUT_MS = 30_000;
// Every process we start inherits it (CliProcess, the client's hooks through git).
const TRACE = (process.env.LETTA_MEMFS_TRACE ||= path.join(tmpdir(), `lmh-bench-trace-${process.pid}.log`));
writeFileSync(TRACE, '');
const now = () => performance.timeOrigin + performance.now();
// Ctrl-C or SIGTERM ends the current push and runs the cleanup (servers, databases, watch), instead of leaking them.
let interrupted: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (interrupted = sig));

interface Sample {
  series: string;
  topology: Topology;
  agent: string;
  round: number;
  phase: number;
  t0: number;
  visible: number;
  ms: number;
  pushMs: number;
  /** The round's plain push to the host (host and patched floors). */
  hostPushMs?: number;
  hops?: Map<string, number>;
  floorMs?: number;
  /** Patched, as the issue words its floor: from the push landing on the host to the block, and fetch + endpoint. */
  afterHostMs?: number;
  afterHostFloorMs?: number;
}

interface Series {
  label: string;
  spec: SeriesSpec;
  site: Site;
  rig: Rig;
  failures: number;
  commits: number;
}

/** Commits `commits` new values of system/human.md, pushes once and waits for the last value on the block. */
async function onePush(s: Series, tag: string, commits: number): Promise<Omit<Sample, 'round' | 'phase'> | undefined> {
  const { rig, site } = s;
  let value = '';
  for (let j = 0; j < commits; j++) {
    value = `bench ${tag}.${j} ${randomBytes(4).toString('hex')}`;
    rig.client.write('system/human.md', blockFile({ description: 'What I know about the human' }, value));
    rig.client.git('commit', '-q', '-am', `bench ${tag}.${j}`);
  }
  s.commits += commits;
  const t0 = now();
  rig.push();
  const pushMs = now() - t0;
  await rig.notify();
  while (now() - t0 < PER_PUSH_TIMEOUT_MS) {
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
    const r = await site.api.call('GET', `/v1/blocks/${rig.blockId}`);
    if (r.status === 200 && r.json.value === value) {
      const visible = now();
      return { series: s.label, topology: s.spec.topology, agent: rig.agentId, t0, visible, ms: visible - t0, pushMs };
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  return undefined;
}

/** Each sample's hops, from the trace lines of its agent between its push and its block showing the value. */
function attachHops(samples: Sample[], events: TraceEvent[]): void {
  const byAgent = new Map<string, TraceEvent[]>();
  for (const e of events) byAgent.set(e.agent, [...(byAgent.get(e.agent) ?? []), e]);
  for (const s of samples) {
    const mine = (byAgent.get(s.agent) ?? []).filter((e) => e.at >= s.t0 - 1 && e.at <= s.visible + 1);
    const all = [{ at: s.t0, event: 'push.start', agent: s.agent }, { at: s.t0 + s.pushMs, event: 'push.end', agent: s.agent }, ...mine, { at: s.visible, event: 'block.visible', agent: s.agent }];
    // The recompile runs beside Letta's sync and ends after the block shows: look a little further for it.
    const later = (byAgent.get(s.agent) ?? []).filter((e) => e.at > s.visible && e.at <= s.visible + 15_000 && e.event.startsWith('serve.recompile.'));
    s.hops = hops(s.topology, [...all, ...later].sort((a, b) => a.at - b.at));
  }
}

/** Floors per sample: direct's is the floor series of its round; host's adds the round's plain host push. */
function attachFloors(samples: Sample[]): void {
  const floorOf = new Map(samples.filter((s) => s.topology === 'floor').map((s) => [`${s.phase}/${s.round}`, s.ms]));
  for (const s of samples) {
    const f = floorOf.get(`${s.phase}/${s.round}`);
    if (s.topology === 'direct') s.floorMs = f;
    if (s.topology === 'host' && f !== undefined && s.hostPushMs !== undefined) s.floorMs = s.hostPushMs + f;
    if (s.topology === 'patched' && s.hostPushMs !== undefined) {
      const fetch = s.hops?.get('watch.probe.end>watch.fetch.end') ?? s.hops?.get('watch.pull.start.poke>watch.fetch.end');
      // The endpoint answers once it has written the blocks: the block may show before its reply.
      const endpoint = s.hops?.get('watch.endpoint.start>watch.endpoint.end') ?? s.hops?.get('watch.endpoint.start>block.visible');
      if (fetch !== undefined && endpoint !== undefined) {
        s.floorMs = s.hostPushMs + fetch + endpoint;
        s.afterHostMs = s.ms - s.pushMs;
        s.afterHostFloorMs = fetch + endpoint;
      }
    }
  }
}

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : `${Math.round(v)}`);

function sampleLine(s: Sample): string {
  const hs = [...(s.hops ?? [])].map(([k, v]) => `${hopName(k)} ${ms(v)}`).join(', ');
  return `${s.series} #${s.round}: ${ms(s.ms)} ms${s.floorMs !== undefined ? ` (floor ${ms(s.floorMs)})` : ''}: ${hs}`;
}

function seriesTable(all: Sample[], labels: string[]): string {
  const rows = labels.map((label) => {
    const ss = all.filter((s) => s.series === label);
    const first = summary(ss.filter((s) => s.phase === 0).map((s) => s.ms));
    const last = summary(ss.filter((s) => s.phase === 2).map((s) => s.ms));
    const floors = ss.map((s) => s.floorMs).filter((v): v is number => v !== undefined);
    const f = summary(floors);
    const total = summary(ss.map((s) => s.ms));
    const ratio = f.n > 0 ? `${((100 * total.p50) / f.p50).toFixed(0)} %` : '–';
    return `| ${label} | ${total.n} | ${p50p99(total)} | ${p50p99(f)} | ${ratio} | ${p50p99(first)} | ${p50p99(last)} | ${seconds(summary(ss.map((s) => s.pushMs)).p50)} |`;
  });
  const table = ['| series | samples | p50 / p99 | its floor p50 / p99 | p50 / floor p50 | first window | last window | git push p50 |', '|---|---|---|---|---|---|---|---|', ...rows];
  // The patched target as the issue states it: the server's part (the push is on the host) against a fetch plus
  // the endpoint's own time, both per sample.
  const after = all.filter((s) => s.afterHostMs !== undefined);
  if (after.length > 0) {
    const ours = summary(after.map((s) => s.afterHostMs!));
    const floor = summary(after.map((s) => s.afterHostFloorMs!));
    table.push('', `patched from the push on the host to the block: ${p50p99(ours)} against fetch + endpoint ${p50p99(floor)}: ${((100 * ours.p50) / floor.p50).toFixed(0)} %`);
  }
  return table.join('\n');
}

function hopTable(all: Sample[], label: string): string {
  const ss = all.filter((s) => s.series === label);
  const keys: string[] = [];
  for (const s of ss) for (const k of s.hops?.keys() ?? []) if (!keys.includes(k)) keys.push(k);
  const rows = keys.map((k) => {
    const v = summary(ss.map((s) => s.hops?.get(k)).filter((x): x is number => x !== undefined));
    return `| ${hopName(k)} | \`${k}\` | ${v.n} | ${ms(v.p50)} | ${ms(v.p99)} |`;
  });
  const total = summary(ss.map((s) => s.ms));
  return [`${label}: p50 ${ms(total.p50)} ms, p99 ${ms(total.p99)} ms`, '', '| hop | milestones | n | p50 ms | p99 ms |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The stock site: an unpatched server whose LETTA_MEMFS_SERVICE_URL is the bench's front (floor.ts), then `serve`. */
async function startStock(install: LettaInstall, processes: CliProcess[]): Promise<{ server: LettaServer; front: Front }> {
  const secret = randomBytes(24).toString('hex');
  const servePort = await freePort();
  // The front needs the memfs root (under the server's home) before the server needs the front's port.
  const frontPort = await freePort();
  const server = await LettaServer.start({ venv: install.venv, name: 'bench-stock', memfsServiceUrl: `http://127.0.0.1:${frontPort}/${secret}` });
  mkdirSync(server.memfsRoot, { recursive: true });
  const front = await startFront(server.memfsRoot, secret, servePort, frontPort);
  const service = await CliProcess.start(['serve', '--memfs-root', server.memfsRoot, '--port', String(servePort), '--letta-url', server.url], { LETTA_MEMFS_SERVICE_SECRET: secret });
  processes.push(service);
  await service.waitFor(/on http:/);
  return { server, front };
}

async function main(): Promise<void> {
  const version = lettaVersion();
  const install = prepareLetta(version);
  const webhookSecret = randomBytes(16).toString('hex');
  const opts: RigOptions = { ...OPTIONS, webhookSecret, lettaKey: 'sk-let-bench-not-a-real-key' };
  const token = `bench-${randomBytes(8).toString('hex')}`;
  const processes: CliProcess[] = [];
  const servers: LettaServer[] = [];
  const fronts: Front[] = [];
  const series: Series[] = [];
  let host: GitHost | undefined;
  const need = (t: string) => SERIES.some((s) => s.topology === t);
  const loadAtStart = os.loadavg();
  try {
    const [patched, stock, h] = await Promise.all([
      need('patched') ? LettaServer.start({ venv: install.venv, patchedDir: install.patched, name: 'bench-patched' }) : undefined,
      need('host') || need('direct') ? startStock(install, processes) : undefined,
      startGitHost({ user: 'git', token }),
    ]);
    host = h;
    if (stock) fronts.push(stock.front);
    const site = (server: LettaServer, mode: Site['mode']): Site => ({
      server,
      api: new Rest(server.url),
      host: h,
      mode,
      env: {
        LETTA_MEMFS_ROOT: server.memfsRoot,
        LETTA_MEMFS_GIT_URL: `${h.url}/agents/{agentId}.git`,
        LETTA_BASE_URL: server.url,
        LETTA_MEMFS_GIT_TOKEN: token,
        LETTA_MEMFS_WEBHOOK_SECRET: webhookSecret,
      },
    });
    for (const s of [patched, stock?.server]) if (s) servers.push(s);
    const sites = { patched: patched && site(patched, 'patched'), host: stock && site(stock.server, 'stock'), direct: stock && site(stock.server, 'stock'), floor: stock && site(stock.server, 'stock') };
    const specs: SeriesSpec[] = [...SERIES, ...(stock ? [{ topology: 'floor', mode: 'push', maintenance: 'off' } as SeriesSpec] : [])];
    for (const spec of specs) {
      const label = spec.topology === 'floor' ? 'floor (bare http-backend)' : `${spec.topology}/${spec.mode}/maintenance-${spec.maintenance}`;
      series.push({ label, spec, site: sites[spec.topology]!, rig: await startRig(sites[spec.topology]!, spec, opts, stock?.front), failures: 0, commits: 0 });
    }
    const plain = need('host') || need('patched') ? await plainHostPush(h) : undefined;

    const phases = [{ n: WINDOW, commits: 1 }, { n: FILLER, commits: FILLER_COMMITS }, { n: FILLER > 0 ? WINDOW : 0, commits: 1 }];
    const samples: Sample[] = [];
    const started = performance.now();
    let round = 0;
    try {
      for (const [phase, p] of phases.entries()) {
        for (let i = 0; i < p.n; i++, round++) {
          const hostPushMs = plain?.push(String(round));
          // Rotate who goes first, so no series always follows the same one.
          const order = series.map((_, k) => series[(k + round) % series.length]);
          for (const s of order) {
            const r = await onePush(s, `${s.label} ${round}`, p.commits);
            if (r) samples.push({ ...r, round, phase, hostPushMs });
            else s.failures++;
          }
          process.stderr.write(`\rround ${round + 1}/${phases.reduce((a, x) => a + x.n, 0)}, ${((performance.now() - started) / 1000).toFixed(0)} s, load ${os.loadavg()[0].toFixed(1)}   `);
        }
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${series.map((s) => `${s.label}:\n${s.rig.log().slice(-2000)}`).join('\n')}`);
    } finally {
      process.stderr.write('\n');
      plain?.remove();
    }
    const minutes = (performance.now() - started) / 60_000;
    attachHops(samples, readTrace(TRACE, 0).events);
    attachFloors(samples);
    for (const s of samples) process.stderr.write(`${sampleLine(s)}\n`);

    const repoGit: Record<string, unknown> = {};
    for (const s of series) {
      const gitDir = agentRepoPath(s.site.server.memfsRoot, DEFAULT_ORG, s.rig.agentId);
      const [files, objects] = await Promise.all([repoFileStats(gitDir), countObjectFiles(gitDir)]);
      repoGit[s.label] = { ...files, ...objects };
    }
    const out = process.stdout;
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    out.write(`letta ${version}; ${round} rounds (window ${WINDOW}, filler ${FILLER} x ${FILLER_COMMITS} commits) in ${minutes.toFixed(1)} min; load average at the start ${load(loadAtStart)}, at the end ${load(os.loadavg())} (${os.cpus().length} cores)\n\n`);
    out.write(seriesTable(samples, series.map((s) => s.label)) + '\n\n');
    for (const s of series) out.write(hopTable(samples, s.label) + '\n\n');
    const failures = series.filter((s) => s.failures > 0).map((s) => `${s.label}: ${s.failures} failed`);
    out.write(failures.length > 0 ? `FAILED pushes: ${failures.join(', ')}\n` : 'No push failed.\n');
    out.write(JSON.stringify({ letta: version, window: WINDOW, filler: FILLER, ...OPTIONS, repoGit, loadAtStart, loadAtEnd: os.loadavg(), samples: samples.map((s) => ({ ...s, hops: Object.fromEntries(s.hops ?? []) })) }) + '\n');
    if (failures.length > 0) process.exitCode = 1;
  } finally {
    for (const s of series) {
      await s.rig.stop();
      s.rig.client.remove();
    }
    for (const p of processes) await p.stop();
    await Promise.all([...servers.map((s) => s.stop()), host?.close(), ...fronts.map((f) => f.close())]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/propagation: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
