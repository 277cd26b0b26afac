// Push-to-block-updated latency against real letta servers, patched and stock (unpatched, behind our `serve`),
// in one run; and whether it stays flat as an agent's history grows, with and without repo.git maintenance.
//
//   npm run build && npx vite-node bench/propagation.ts
//   env: LETTA_VERSION (default 0.16.7)
//        BENCH_SERIES    topology/mode/maintenance list (default: every series below)
//        BENCH_WINDOW    pushes measured at the start and at the end of a series (default 50)
//        BENCH_FILLER    pushes between the two windows that grow the agent's history (default 25; polling: none)
//        BENCH_FILLER_COMMITS  commits carried by each filler push (default 16; under ~20 keeps a push below git's
//                        unpackLimit, so its objects land loose as a single push's do)
//        BENCH_POLL_INTERVAL (watch --interval, default 2), BENCH_MAINT_GRACE (s, default 60),
//        BENCH_MAINT_EVERY (direct: s between `maintain` runs, default 30)
//
// Each series gets a fresh agent and client checkout. For each push: write system/human.md with a new value,
// commit, then time from the start of `git push` until GET /v1/blocks/{id} returns the new value (polled every
// 20 ms). Topologies and modes (bench/propagation.md says more):
//   patched/event|polling  patched server; client pushes to the external host; `watch` pulls (poked / polling)
//                          and calls the patched sync-from-git endpoint.
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
import { type Rig, type RigOptions, type SeriesSpec, type Site, startRig } from './propagation/rigs.js';
import { p50p99, seconds, summary, type Summary } from './propagation/stats.js';

const ALL_SERIES = 'patched/event/off,patched/event/on,patched/polling/on,host/event/off,host/event/on,host/polling/on,direct/push/off,direct/push/on';
const SERIES: SeriesSpec[] = (process.env.BENCH_SERIES ?? ALL_SERIES).split(',').map((s) => {
  const [topology, mode, maintenance] = s.split('/');
  const ok = { patched: ['event', 'polling'], host: ['event', 'polling'], direct: ['push'] }[topology]?.includes(mode) && ['off', 'on'].includes(maintenance);
  if (!ok) throw new Error(`BENCH_SERIES: ${JSON.stringify(s)} is not topology/mode/maintenance (e.g. ${ALL_SERIES})`);
  return { topology, mode, maintenance } as SeriesSpec;
});
const WINDOW = Number(process.env.BENCH_WINDOW ?? 50);
const FILLER = Number(process.env.BENCH_FILLER ?? 25);
const FILLER_COMMITS = Number(process.env.BENCH_FILLER_COMMITS ?? 16);
const OPTIONS: Omit<RigOptions, 'webhookSecret' | 'lettaKey'> = {
  pollInterval: Number(process.env.BENCH_POLL_INTERVAL ?? 2),
  maintGrace: Number(process.env.BENCH_MAINT_GRACE ?? 60),
  maintEvery: Number(process.env.BENCH_MAINT_EVERY ?? 30),
};
const PER_PUSH_TIMEOUT_MS = 30_000;
// Ctrl-C or SIGTERM ends the current push and runs the cleanup (servers, databases, watch), instead of leaking them.
let interrupted: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (interrupted = sig));

interface Sample {
  ms: number;
  pushMs: number;
}

/** Commits `commits` new values of system/human.md, pushes once and waits for the last value on the block. */
async function onePush(site: Site, rig: Rig, tag: string, commits: number): Promise<Sample | undefined> {
  let value = '';
  for (let j = 0; j < commits; j++) {
    value = `bench ${tag}.${j} ${randomBytes(4).toString('hex')}`;
    rig.client.write('system/human.md', blockFile({ description: 'What I know about the human' }, value));
    rig.client.git('commit', '-q', '-am', `bench ${tag}.${j}`);
  }
  const t0 = performance.now();
  rig.push();
  const pushMs = performance.now() - t0;
  await rig.notify();
  while (performance.now() - t0 < PER_PUSH_TIMEOUT_MS) {
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
    const r = await site.api.call('GET', `/v1/blocks/${rig.blockId}`);
    if (r.status === 200 && r.json.value === value) return { ms: performance.now() - t0, pushMs };
    await new Promise((res) => setTimeout(res, 20));
  }
  return undefined;
}

interface SeriesResult {
  spec: SeriesSpec;
  pushes: number;
  commits: number;
  failures: number;
  minutes: number;
  first: Summary;
  filler: Summary;
  last: Summary;
  push: Summary;
  repoGit: { files: number; bytes: number; loose: number; packs: number };
}

async function runSeries(site: Site, spec: SeriesSpec, opts: RigOptions): Promise<SeriesResult> {
  const label = `${spec.topology}/${spec.mode}/maintenance-${spec.maintenance}`;
  const rig = await startRig(site, spec, opts);
  // Polling samples are dominated by the interval: they only answer issue 8's >= 50 pushes, no growth phase.
  const phases = spec.mode === 'polling' ? [{ n: WINDOW, commits: 1 }] : [{ n: WINDOW, commits: 1 }, { n: FILLER, commits: FILLER_COMMITS }, { n: WINDOW, commits: 1 }];
  const samples: Sample[][] = phases.map(() => []);
  const total = phases.reduce((a, p) => a + p.n, 0);
  let failures = 0;
  let done = 0;
  let commits = 0;
  const started = performance.now();
  try {
    for (const [k, phase] of phases.entries()) {
      for (let i = 0; i < phase.n; i++) {
        const s = await onePush(site, rig, `${label} ${done}`, phase.commits);
        commits += phase.commits;
        if (s) samples[k].push(s);
        else failures++;
        done++;
        process.stderr.write(`\r${label}: ${done}/${total} pushes, ${((performance.now() - started) / 1000).toFixed(0)} s   `);
      }
    }
  } catch (err) {
    throw new Error(`${label}: ${(err as Error).message}\n${rig.log().slice(-3000)}`);
  } finally {
    process.stderr.write('\n');
    await rig.stop();
    rig.client.remove();
  }
  const gitDir = agentRepoPath(site.server.memfsRoot, DEFAULT_ORG, rig.agentId);
  const [files, objects] = await Promise.all([repoFileStats(gitDir), countObjectFiles(gitDir)]);
  const ms = (ss: Sample[]) => ss.map((s) => s.ms);
  return {
    spec,
    pushes: done,
    commits,
    failures,
    minutes: (performance.now() - started) / 60_000,
    first: summary(ms(samples[0])),
    filler: summary(ms(samples[1] ?? [])),
    last: summary(ms(samples[2] ?? [])),
    push: summary(samples.flat().map((s) => s.pushMs)),
    repoGit: { ...files, ...objects },
  };
}

/** The stock site: an unpatched server whose LETTA_MEMFS_SERVICE_URL is our `serve` (as test/e2e/memfs-service). */
async function startStock(install: LettaInstall, processes: CliProcess[]): Promise<LettaServer> {
  const port = await freePort();
  const secret = randomBytes(24).toString('hex');
  const server = await LettaServer.start({ venv: install.venv, name: 'bench-stock', memfsServiceUrl: `http://127.0.0.1:${port}/${secret}` });
  mkdirSync(server.memfsRoot, { recursive: true });
  const service = await CliProcess.start(['serve', '--memfs-root', server.memfsRoot, '--port', String(port), '--letta-url', server.url], { LETTA_MEMFS_SERVICE_SECRET: secret });
  processes.push(service);
  await service.waitFor(/on http:/);
  return server;
}

function row(r: SeriesResult): string {
  const ratio = r.last.n > 0 ? `${(r.last.p50 / r.first.p50).toFixed(2)}x` : '–';
  const pushes = `${r.pushes} (${r.commits} commits)${r.failures ? `, ${r.failures} failed` : ''}`;
  const g = r.repoGit;
  return `| ${r.spec.topology} | ${r.spec.mode} | ${r.spec.maintenance} | ${pushes} | ${r.minutes.toFixed(1)} min | ${p50p99(r.first)} | ${p50p99(r.filler)} | ${p50p99(r.last)} | ${ratio} | ${seconds(r.push.p50)} | ${g.files} | ${(g.bytes / 1024).toFixed(0)} KiB | ${g.loose} / ${g.packs} |`;
}

function table(results: SeriesResult[]): string {
  return [
    `| topology | mode | maint. | pushes | time | first ${WINDOW} p50 / p99 | filler p50 / p99 | last ${WINDOW} p50 / p99 | last/first p50 | git push p50 | repo.git files | size | loose / packs |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(row),
  ].join('\n');
}

async function main(): Promise<void> {
  const version = lettaVersion();
  const install = prepareLetta(version);
  const webhookSecret = randomBytes(16).toString('hex');
  const opts: RigOptions = { ...OPTIONS, webhookSecret, lettaKey: 'sk-let-bench-not-a-real-key' };
  const token = `bench-${randomBytes(8).toString('hex')}`;
  const processes: CliProcess[] = [];
  const servers: LettaServer[] = [];
  let host: GitHost | undefined;
  const need = (t: string) => SERIES.some((s) => s.topology === t);
  try {
    const [patched, stock, h] = await Promise.all([
      need('patched') ? LettaServer.start({ venv: install.venv, patchedDir: install.patched, name: 'bench-patched' }) : undefined,
      need('host') || need('direct') ? startStock(install, processes) : undefined,
      startGitHost({ user: 'git', token }),
    ]);
    host = h;
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
    for (const s of [patched, stock]) if (s) servers.push(s);
    const sites = { patched: patched && site(patched, 'patched'), host: stock && site(stock, 'stock'), direct: stock && site(stock, 'stock') };
    const results: SeriesResult[] = [];
    for (const spec of SERIES) {
      const r = await runSeries(sites[spec.topology]!, spec, opts);
      results.push(r);
      // Each row as soon as it is known (with the load then): a long run cut short keeps what it measured.
      process.stderr.write(`${row(r)} load ${os.loadavg()[0].toFixed(1)}\n`);
    }

    const out = process.stdout;
    out.write(`letta ${version}; window ${WINDOW} pushes; filler ${FILLER} pushes x ${FILLER_COMMITS} commits; maintenance grace ${opts.maintGrace} s; polling interval ${opts.pollInterval} s; direct maintain every ${opts.maintEvery} s\n`);
    out.write(table(results) + '\n');
    out.write(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores, shared with other work: it skews these figures)\n`);
    out.write(JSON.stringify({ letta: version, window: WINDOW, filler: FILLER, fillerCommits: FILLER_COMMITS, ...OPTIONS, results, loadAverage: os.loadavg() }) + '\n');
    if (results.some((r) => r.failures > 0)) process.exitCode = 1;
  } finally {
    for (const p of processes) await p.stop();
    await Promise.all([...servers.map((s) => s.stop()), host?.close()]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/propagation: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
