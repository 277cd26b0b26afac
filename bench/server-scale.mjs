#!/usr/bin/env node
// Server-role scale bench (run after `npm run build`): 1,000 agent repos made the way Letta makes them, each with
// an external bare repo already holding the same main. Prints, against the goals from issue 3:
//   init --server --all time (<= 30 s), one idle pull --all time and one idle watch cycle time (<= 10 s),
//   sync calls made while idle (0), watcher RSS (<= 150 MB).
// BENCH_AGENTS changes the count; BENCH_TMP the directory (default: the OS temp dir, i.e. a real disk);
// BENCH_KEEP=1 keeps the tree.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const N = Number(process.env.BENCH_AGENTS ?? 1000);
const ORG = 'org-00000000-0000-4000-8000-000000000000';
if (!fs.existsSync(CLI)) {
  console.error('bench: dist/ is missing (fix: npm run build)');
  process.exit(1);
}

const base = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'lmh-bench-'));
const memfs = path.join(base, 'memfs');
const ext = path.join(base, 'ext');
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'User user-0', GIT_AUTHOR_EMAIL: 'user-0@letta.ai', GIT_COMMITTER_NAME: 'User user-0', GIT_COMMITTER_EMAIL: 'user-0@letta.ai' };
const git = (args, cwd = base) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
const id = (i) => `agent-${String(i).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;

// Sync calls are counted by a stand-in for the Letta API.
let syncCalls = 0;
const letta = http.createServer((req, res) => {
  if (/\/memory\/sync-from-git/.test(req.url ?? '')) syncCalls++;
  req.resume();
  req.on('end', () => res.end('{"recompiled":false}'));
});
await new Promise((r) => letta.listen(0, '127.0.0.1', r));
const lettaUrl = `http://127.0.0.1:${letta.address().port}`;

function cli(args) {
  return new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const c = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LETTA_MEMFS_INTERNAL: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out, secs: Number(process.hrtime.bigint() - t) / 1e9 }));
  });
}

console.log(`bench: creating ${N} agent repos under ${base}`);
const work = path.join(base, 'template');
fs.mkdirSync(path.join(work, 'system'), { recursive: true });
git(['init', '-q', '-b', 'main'], work);
fs.writeFileSync(path.join(work, 'system', 'human.md'), '---\ndescription: The human\n---\nName: Ada\n');
fs.writeFileSync(path.join(work, 'system', 'persona.md'), '---\ndescription: Persona\n---\nHelpful.\n');
git(['add', '-A'], work);
git(['commit', '-q', '-m', 'Initial commit'], work);
const extTemplate = path.join(base, 'ext-template.git');
git(['clone', '-q', '--bare', work, extTemplate]);
for (let i = 0; i < N; i++) {
  fs.cpSync(path.join(work, '.git'), path.join(memfs, 'repository', ORG, id(i), 'repo.git'), { recursive: true });
  fs.cpSync(extTemplate, path.join(ext, `${id(i)}.git`), { recursive: true });
}

const results = {};
const init = await cli(['init', '--server', '--memfs-root', memfs, '--remote', `${ext}/{agentId}.git`, '--letta-url', lettaUrl]);
if (init.code !== 0) throw new Error(`init failed: ${init.out}`);
results.initSeconds = init.secs;
const again = await cli(['init', '--server', '--memfs-root', memfs]);
results.reinitSeconds = again.secs;

// The first pull after init fetches once per agent (no remote-tracking ref yet); later idle pulls ask each
// remote for its main without starting git.
const first = await cli(['pull', '--all', '--memfs-root', memfs]);
if (first.code !== 0) throw new Error(`pull failed: ${first.out}`);
results.firstPullAllSeconds = first.secs;
const pull = await cli(['pull', '--all', '--memfs-root', memfs]);
if (pull.code !== 0) throw new Error(`pull failed: ${pull.out}`);
results.idlePullAllSeconds = pull.secs;

const once = await cli(['watch', '--once', '--memfs-root', memfs]);
if (once.code !== 0) throw new Error(`watch --once failed: ${once.out}`);
results.idleWatchOnceSeconds = once.secs;

// The long-running watcher: after its startup pull of every agent, time one idle poll tick from its log-free
// steady state and read its RSS.
const w = spawn(process.execPath, [CLI, 'watch', '--memfs-root', memfs, '--interval', '3600', '--no-listen'], {
  env: { ...process.env, LETTA_MEMFS_INTERNAL: undefined },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
let peak = 0;
const sampler = setInterval(() => {
  try {
    peak = Math.max(peak, rss());
  } catch {}
}, 100);
const { Watcher } = await import(path.join(ROOT, 'dist', 'server', 'watch.js'));
const { loadServerContext } = await import(path.join(ROOT, 'dist', 'server', 'context.js'));
const ctx = await loadServerContext({ memfsRoot: memfs });
const inproc = new Watcher({ ctx, intervalSeconds: 3600 });
await inproc.cycle(); // first pass: scan + pending check
const t = process.hrtime.bigint();
const tick = await inproc.cycle();
results.idleWatchTickSeconds = Number(process.hrtime.bigint() - t) / 1e9;
results.idleTickPulls = tick.pulls;
await inproc.stop();
await new Promise((r) => setTimeout(r, 25_000)); // the spawned watcher's startup pull of every agent
results.watcherRssMB = Math.round(rss());
results.watcherPeakRssMB = Math.round(peak);
clearInterval(sampler);
w.kill('SIGTERM');
await new Promise((r) => w.on('close', r));
results.syncCallsWhileIdle = syncCalls;
letta.close();

const goals = [
  ['init --server --all', `${results.initSeconds.toFixed(1)} s (re-run ${results.reinitSeconds.toFixed(1)} s)`, results.initSeconds <= 30, '<= 30 s'],
  ['idle pull --all', `${results.idlePullAllSeconds.toFixed(1)} s (first after init ${results.firstPullAllSeconds.toFixed(1)} s)`, results.idlePullAllSeconds <= 10, '<= 10 s'],
  ['idle watch --once (pull every agent)', `${results.idleWatchOnceSeconds.toFixed(1)} s`, results.idleWatchOnceSeconds <= 10, '<= 10 s'],
  ['idle watch tick (ref poll, pending check)', `${(results.idleWatchTickSeconds * 1000).toFixed(0)} ms, ${results.idleTickPulls} pulls`, results.idleWatchTickSeconds <= 10, '<= 10 s'],
  ['sync calls while idle', String(results.syncCallsWhileIdle), results.syncCallsWhileIdle === 0, '0'],
  ['watcher RSS', `${results.watcherRssMB} MB (peak ${results.watcherPeakRssMB} MB)`, results.watcherPeakRssMB <= 150, '<= 150 MB'],
];
console.log(`bench: ${N} agents, node ${process.version}, git ${git(['--version']).replace('git version ', '')}, ${os.cpus().length} cpus`);
for (const [name, value, ok, goal] of goals) console.log(`${ok ? 'ok  ' : 'MISS'} ${name}: ${value} (goal ${goal})`);
if (process.env.BENCH_KEEP) console.log(`bench: kept ${base}`);
else fs.rmSync(base, { recursive: true, force: true });
process.exitCode = goals.every((g) => g[2]) ? 0 : 1;
