// Throughput of each path (issue 22): BENCH_LOAD_AGENTS agents (default 20) push at once, each once a second (or as
// soon as its previous push returned, if that took longer), for BENCH_LOAD_SECONDS (default 60), through the floor
// (bare git http-backend behind the stock Letta's proxy), direct (Letta Code to Letta, our `serve`), host (client to
// the external host, poke, `watch` pushes through Letta's proxy) and patched (poke, watch, sync-from-git), one path
// after the other. A push counts as handled when `git push` succeeded; its latency runs until the agent's block
// shows its value or a later one (each agent's block polled every BENCH_LOAD_POLL_MS, default 500). Lost: a push
// that succeeded but whose value (or a later one) never showed within BENCH_LOAD_DRAIN seconds (default 120).
//
//   npm run build && npx vite-node bench/propagation-load.ts        (BENCH_LOAD_PATHS=floor,direct,host,patched)
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { promisify } from 'node:util';
import { startGitHost, type GitHost } from '../test/fixtures/git-host.js';
import { CliProcess } from '../test/e2e/helpers/cli.js';
import { lettaVersion } from '../test/e2e/helpers/env.js';
import { blockFile } from '../test/e2e/helpers/repo.js';
import { Rest } from '../test/e2e/helpers/rest.js';
import { freePort, LettaServer } from '../test/e2e/helpers/server.js';
import { prepareLetta } from '../test/e2e/helpers/venv.js';
import { type Rig, type RigOptions, type Site, startRig, startWatchGroup } from './propagation/rigs.js';
import { startFront, type Front } from './propagation/floor.js';
import { summary } from './propagation/stats.js';

const AGENTS = Number(process.env.BENCH_LOAD_AGENTS ?? 20);
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const POLL_MS = Number(process.env.BENCH_LOAD_POLL_MS ?? 500);
const DRAIN_MS = Number(process.env.BENCH_LOAD_DRAIN ?? 120) * 1000;
const PATHS = (process.env.BENCH_LOAD_PATHS ?? 'floor,direct,host,patched').split(',');
const run = promisify(execFile);
const now = () => performance.now();
// Ctrl-C or SIGTERM ends the pushing and runs the cleanup (servers, databases, watch), instead of leaking them.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (interrupted = true));

interface Push {
  seq: number;
  t0: number;
  ok: boolean;
  visibleAt?: number;
}

async function agentLoad(rig: Rig, api: Rest, start: number, endAt: number): Promise<Push[]> {
  const pushes: Push[] = [];
  const env = { ...process.env, ...rig.client.env() };
  const git = (...args: string[]) => run('git', args, { cwd: rig.client.dir, env });
  let seen = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const r = await api.call('GET', `/v1/blocks/${rig.blockId}`).catch(() => undefined);
      const m = /load (\d+) /.exec(String(r?.json?.value ?? ''));
      if (m && Number(m[1]) > seen) {
        seen = Number(m[1]);
        const t = now();
        for (const p of pushes) if (p.seq <= seen && p.visibleAt === undefined) p.visibleAt = t;
      }
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  })();
  for (let seq = 1; ; seq++) {
    // On schedule, or at once when the previous push took longer than a second; never past the end.
    const due = start + (seq - 1) * 1000;
    if (due >= endAt || now() >= endAt || interrupted) break;
    if (due > now()) await new Promise((res) => setTimeout(res, due - now()));
    rig.client.write('system/human.md', blockFile({ description: 'What I know about the human' }, `load ${seq} ${randomBytes(4).toString('hex')}`));
    await git('commit', '-q', '-am', `load ${seq}`);
    const p: Push = { seq, t0: now(), ok: false };
    pushes.push(p);
    p.ok = await git(...rig.pushArgs).then(() => true, () => false);
  }
  const last = Math.max(0, ...pushes.filter((p) => p.ok).map((p) => p.seq));
  const drainEnd = now() + DRAIN_MS;
  while (seen < last && now() < drainEnd && !interrupted) await new Promise((res) => setTimeout(res, POLL_MS));
  polling = false;
  await poller;
  return pushes;
}

async function loadPath(name: string, rigs: Rig[], api: Rest): Promise<string> {
  const start = now() + 1000;
  const loadBefore = os.loadavg()[0];
  const all = (await Promise.all(rigs.map((r) => agentLoad(r, api, start, start + SECONDS * 1000)))).flat();
  const ok = all.filter((p) => p.ok);
  const lat = summary(ok.filter((p) => p.visibleAt !== undefined).map((p) => p.visibleAt! - p.t0));
  const lost = ok.filter((p) => p.visibleAt === undefined).length;
  const s = (v: number) => (Number.isNaN(v) ? '–' : `${(v / 1000).toFixed(2)} s`);
  return `| ${name} | ${rigs.length} | ${all.length} | ${ok.length} (${all.length - ok.length} failed) | ${(ok.length / SECONDS).toFixed(1)} | ${s(lat.p50)} / ${s(lat.p99)} / ${s(lat.max)} | ${lost} | ${loadBefore.toFixed(1)} / ${os.loadavg()[0].toFixed(1)} |`;
}

async function main(): Promise<void> {
  const install = prepareLetta(lettaVersion());
  const token = `bench-${randomBytes(8).toString('hex')}`;
  const opts: RigOptions = { pollInterval: 2, maintGrace: 60, maintEvery: 30, webhookSecret: randomBytes(16).toString('hex'), lettaKey: 'sk-let-bench-not-a-real-key' };
  const processes: CliProcess[] = [];
  const servers: LettaServer[] = [];
  const stops: (() => Promise<void>)[] = [];
  let host: GitHost | undefined;
  let front: Front | undefined;
  try {
    host = await startGitHost({ user: 'git', token });
    const site = (server: LettaServer, mode: Site['mode']): Site => ({
      server, api: new Rest(server.url), host: host!, mode,
      env: { LETTA_MEMFS_ROOT: server.memfsRoot, LETTA_MEMFS_GIT_URL: `${host!.url}/agents/{agentId}.git`, LETTA_BASE_URL: server.url, LETTA_MEMFS_GIT_TOKEN: token, LETTA_MEMFS_WEBHOOK_SECRET: opts.webhookSecret },
    });
    const rows: string[] = [];
    const stockNeeded = PATHS.some((p) => p !== 'patched');
    let stock: Site | undefined;
    if (stockNeeded) {
      const secret = randomBytes(24).toString('hex');
      const [servePort, frontPort] = [await freePort(), await freePort()];
      const server = await LettaServer.start({ venv: install.venv, name: 'load-stock', memfsServiceUrl: `http://127.0.0.1:${frontPort}/${secret}` });
      servers.push(server);
      (await import('node:fs')).mkdirSync(server.memfsRoot, { recursive: true });
      front = await startFront(server.memfsRoot, secret, servePort, frontPort);
      const service = await CliProcess.start(['serve', '--memfs-root', server.memfsRoot, '--port', String(servePort), '--letta-url', server.url], { LETTA_MEMFS_SERVICE_SECRET: secret });
      processes.push(service);
      await service.waitFor(/on http:/);
      stock = site(server, 'stock');
    }
    for (const path of PATHS) {
      let rigs: Rig[] = [];
      let s: Site;
      if (path === 'floor' || path === 'direct') {
        s = stock!;
        for (let i = 0; i < AGENTS; i++) rigs.push(await startRig(s, { topology: path, mode: 'push', maintenance: 'off' }, opts, front));
      } else {
        if (path === 'patched') {
          const server = await LettaServer.start({ venv: install.venv, patchedDir: install.patched, name: 'load-patched' });
          servers.push(server);
          s = site(server, 'patched');
        } else s = stock!;
        const g = await startWatchGroup(s, opts, AGENTS, path);
        rigs = g.rigs;
        stops.push(g.stop);
      }
      process.stderr.write(`${path}: ${rigs.length} agents ready, load ${os.loadavg()[0].toFixed(1)}; pushing for ${SECONDS} s\n`);
      const logFrom = processes[0]?.log.length ?? 0;
      rows.push(await loadPath(path, rigs, s.api));
      // What serve refused or failed during this path, by reason (the secret is never in its log).
      const why = new Map<string, number>();
      for (const l of (processes[0]?.log ?? '').slice(logFrom).split('\n')) {
        const m = /(refused .*? \d{3}: [^(]*)|( (?:4|5)\d\d in \d+ ms.*)/.exec(l);
        const key = m && (m[1] ?? m[2]).replace(/agent-[0-9a-f-]{36}/g, '<agent>').replace(/in \d+ ms/, 'in … ms').slice(0, 160);
        if (key) why.set(key, (why.get(key) ?? 0) + 1);
      }
      for (const [k, n] of why) process.stderr.write(`  serve: ${n} x ${k}\n`);
      process.stderr.write(`${rows[rows.length - 1]}\n`);
      for (const r of rigs) r.client.remove();
    }
    process.stdout.write(`letta ${lettaVersion()}; ${AGENTS} agents, each a push a second for ${SECONDS} s, blocks polled every ${POLL_MS} ms (${os.cpus().length} cores)\n\n`);
    process.stdout.write(['| path | agents | pushes | succeeded | handled / s | push to block p50 / p99 / max | lost | load 1-min before / after |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n');
  } finally {
    for (const stop of stops) await stop();
    for (const p of processes) await p.stop();
    await Promise.all([...servers.map((s) => s.stop()), host?.close(), front?.close()]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/propagation-load: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
