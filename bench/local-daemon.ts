// The local daemon at rest, and the client's hot paths against a bare node start (issue 16, items 5 and 6).
//
//   npm run build && npx vite-node bench/local-daemon.ts
//   env: BENCH_AGENTS (200), BENCH_INTERVAL (daemon --interval, 60 s), BENCH_WINDOWS (intervals measured, 2),
//        BENCH_RUNS (timings per hot-path case, 21)
//
// Part 1: BENCH_AGENTS local-backend agents (checkouts as Letta Code's initializeLocalMemoryRepo leaves them: git init,
// main, one commit), each with an empty repo on the basic-auth `git http-backend` host (test/fixtures/git-host.ts,
// which logs every HTTP request). One `daemon` sets them all up from the template one hand-run `init` recorded and
// seeds the host; then, with nothing changing, BENCH_WINDOWS intervals are measured: the daemon's CPU time (utime +
// stime from /proc) as a share of one core, HTTP requests the host saw per agent per interval, and RSS (VmRSS at the
// end, VmHWM peak). Goals: <= 1 %, <= 1, <= 100 MB. Floor in the same run: an idle node process's RSS.
//
// Part 2: wall and CPU time (children's, from /usr/bin/time) of one background push (`node background-push.mjs`, the
// process every local commit starts; here main is already on the host, so it is the whole path with git's no-op push)
// and of `daemon --once` over one idle agent (process start, module load, one idle round), next to `node -e 0`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGitHost } from '../test/fixtures/git-host.js';
import { isolatedEnv } from './isolated-env.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'runtime', 'cli.mjs'); // the package's bin
const PUSH = path.join(ROOT, 'dist', 'runtime', 'background-push.mjs');
const AGENTS = Number(process.env.BENCH_AGENTS ?? 200);
const INTERVAL = Number(process.env.BENCH_INTERVAL ?? 60);
const WINDOWS = Number(process.env.BENCH_WINDOWS ?? 2);
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const USER = 'bench';
const TOKEN = 'bench-daemon-token-0c7e';
for (const f of [CLI, PUSH]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-bench-daemon-')));
const home = path.join(tmp, 'home');
const env = isolatedEnv(home, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
fs.mkdirSync(path.join(home, '.config', 'letta-memfs-hooks'), { recursive: true });
fs.writeFileSync(path.join(home, '.config', 'letta-memfs-hooks', 'config.json'), JSON.stringify({ gitUsername: USER }));
const storage = path.join(home, '.letta', 'lc-local-backend');
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

function makeAgent(under = storage): { id: string; dir: string } {
  const id = `agent-local-${randomUUID()}`;
  const dir = path.join(under, 'memfs', id, 'memory');
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'MEMORY.md'), '# Memory\n');
  fs.writeFileSync(path.join(dir, 'persona.md'), '---\nname: Persona\ndescription: Who I am\n---\nCareful.\n');
  git(dir, 'add', '-A');
  git(dir, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'chore: initialize local memory');
  return { id, dir };
}

function procStat(pid: number): { cpuMs: number; rssMb: number; hwmMb: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuMs: (ticks * 1000) / 100, rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** /usr/bin/time's elapsed and user+sys seconds of one command, in ms. */
function timed(cmd: string[], cwd: string): { wall: number; cpu: number; status: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '@@%e %U %S', ...cmd], { cwd, env, encoding: 'utf8' });
  const m = /@@([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (!m) throw new Error(`no timing for ${cmd.join(' ')}: ${r.stderr}`);
  return { wall: Number(m[1]) * 1000, cpu: (Number(m[2]) + Number(m[3])) * 1000, status: r.status ?? -1 };
}

const host = await startGitHost({ user: USER, token: TOKEN });
try {
  // ---- Part 1: BENCH_AGENTS idle agents under one daemon ----
  const agents = Array.from({ length: AGENTS }, () => makeAgent());
  for (const a of agents) await host.createRepo(`bench/${a.id}.git`);
  const template = `${host.url}/bench/{agentId}.git`;
  execFileSync(process.execPath, [CLI, 'init', '--yes', '--remote', template], { cwd: agents[0].dir, env, stdio: 'ignore' });
  const floorProc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  const daemon = spawn(process.execPath, [CLI, 'daemon', '--interval', String(INTERVAL)], { cwd: home, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const setupStart = Date.now();
  const seeded = () => agents.every((a) => fs.existsSync(path.join(host.root, 'bench', `${a.id}.git`, 'refs', 'heads', 'main')));
  while (!seeded()) {
    if (Date.now() - setupStart > 30 * 60_000) throw new Error(`not every agent seeded after 30 min: ${log.slice(-2000)}`);
    await sleep(500);
  }
  const setupMs = Date.now() - setupStart;
  // Let the start-up queue drain and one periodic round pass before measuring the idle state.
  await sleep(INTERVAL * 1000 + 2000);
  const requestsBefore = host.requests.length;
  const before = procStat(daemon.pid!);
  const t0 = Date.now();
  await sleep(WINDOWS * INTERVAL * 1000);
  const after = procStat(daemon.pid!);
  const elapsed = Date.now() - t0;
  const requests = host.requests.length - requestsBefore;
  const floor = procStat(floorProc.pid!);
  daemon.kill('SIGTERM');
  floorProc.kill('SIGTERM');
  const errors = log.split('\n').filter((l) => /error/.test(l));
  const cpuPct = ((after.cpuMs - before.cpuMs) / elapsed) * 100;
  const perAgent = requests / (AGENTS * WINDOWS);
  console.log(`local daemon, ${AGENTS} idle agents, --interval ${INTERVAL}, measured over ${WINDOWS} intervals (${(elapsed / 1000).toFixed(0)} s), ${os.cpus().length} cores:`);
  console.log(`  set-up of ${AGENTS} new agents + seeding the host: ${(setupMs / 1000).toFixed(1)} s; ${errors.length} error lines`);
  console.log(`  CPU: ${cpuPct.toFixed(2)} % of one core (goal <= 1 %); ${((after.cpuMs - before.cpuMs) / (AGENTS * WINDOWS)).toFixed(2)} ms per agent per interval`);
  console.log(`  remote requests: ${requests} = ${perAgent.toFixed(2)} per agent per interval (goal <= 1)`);
  console.log(`  RSS: ${after.rssMb.toFixed(1)} MB now, ${after.hwmMb.toFixed(1)} MB peak (goal <= 100 MB); an idle node: ${floor.rssMb.toFixed(1)} MB`);

  // ---- Part 2: hot paths next to a bare node start ----
  const one = agents[1];
  const state = path.join(one.dir, '.git', 'letta-memfs');
  const cases: [string, string[], string][] = [
    ['node -e 0', [process.execPath, '-e', '0'], one.dir],
    ['background push (main already on the host)', [process.execPath, PUSH, one.dir, state], one.dir],
  ];
  // A storage dir of its own with one agent, set up and seeded, for `daemon --once`.
  const oneStorage = path.join(tmp, 'one');
  const solo = makeAgent(oneStorage);
  await host.createRepo(`bench/${solo.id}.git`);
  const soloEnv = { ...env, LETTA_LOCAL_BACKEND_DIR: oneStorage };
  execFileSync(process.execPath, [CLI, 'init', '--yes', '--remote', template], { cwd: solo.dir, env: soloEnv, stdio: 'ignore' });
  execFileSync(process.execPath, [CLI, 'pull'], { cwd: solo.dir, env: soloEnv, stdio: 'ignore' });
  const onceEnv = ['env', `LETTA_LOCAL_BACKEND_DIR=${oneStorage}`, process.execPath, CLI, 'daemon', '--once'];
  cases.push(['daemon --once, one idle agent', onceEnv, home]);
  const results = new Map<string, { wall: number[]; cpu: number[] }>(cases.map(([n]) => [n, { wall: [], cpu: [] }]));
  for (let i = 0; i < RUNS; i++) {
    for (const [n, cmd, cwd] of cases) {
      const t = timed(cmd, cwd);
      if (t.status !== 0) throw new Error(`${n} exited ${t.status}`);
      results.get(n)!.wall.push(t.wall);
      results.get(n)!.cpu.push(t.cpu);
    }
  }
  const base = results.get('node -e 0')!;
  console.log(`hot paths, median of ${RUNS} (wall / CPU ms; added over node -e 0):`);
  for (const [n, r] of results) {
    const w = median(r.wall);
    const c = median(r.cpu);
    const extra = n === 'node -e 0' ? '' : `  (+${(w - median(base.wall)).toFixed(0)} / +${(c - median(base.cpu)).toFixed(0)})`;
    console.log(`  ${n.padEnd(46)} ${w.toFixed(0).padStart(5)} / ${c.toFixed(0).padStart(4)}${extra}`);
  }
  const pushLog = spawnSync(process.execPath, [PUSH, one.dir, state], { cwd: one.dir, env, encoding: "utf8" }).stdout.trim().split("\n");
  console.log(`  (background push results: ${[...new Set(pushLog.map((l) => l.replace(/^\S+ /, '').replace(/[0-9a-f]{12}/, '<oid>')))].join(', ')})`);
} finally {
  await host.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
