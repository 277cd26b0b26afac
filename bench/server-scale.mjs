#!/usr/bin/env node
// Server-role scale bench (run after `npm run build`): 10,000 agent repos made the way Letta makes them, each with
// an external repo already holding the same main. Prints, against the goals from issue 11 (10,000 agents):
//   init --server --all <= 3 min; an idle watch tick <= 5 s with 0 pulls and 0 Letta calls; watcher RSS <= 300 MB;
//   status --server --json <= 10 s; with BENCH_REFERENCE=1 also idle pull --all and watch --once.
// Fast tree: one Letta-made repo.git's files are written out per agent (its hook samples left out: never read), and every
// agent's external repo is a symlink to one bare repo (same main; nothing is pushed while idle).
// BENCH_AGENTS changes the count; BENCH_TMP the directory (default: the OS temp dir, i.e. a real disk);
// BENCH_KEEP=1 keeps the tree.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'runtime', 'cli.mjs');
const N = Number(process.env.BENCH_AGENTS ?? 10000);
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

// Letta calls (sync or any other) are counted by a stand-in for the Letta API.
let lettaCalls = 0;
const letta = http.createServer((req, res) => {
  lettaCalls++;
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
// Every agent gets the template's files written directly (read once): 10,000 copies in seconds, not minutes.
const template = [];
for (const e of fs.readdirSync(path.join(work, '.git'), { recursive: true, withFileTypes: true })) {
  const full = path.join(e.parentPath ?? e.path, e.name);
  const rel = path.relative(path.join(work, '.git'), full);
  if (e.isFile() && !rel.startsWith('hooks')) template.push([rel, fs.readFileSync(full)]);
}
const templateDirs = [...new Set(template.map(([rel]) => path.dirname(rel)))].concat('hooks');
fs.mkdirSync(ext);
const made = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const dir = path.join(memfs, 'repository', ORG, id(i), 'repo.git');
  for (const d of templateDirs) fs.mkdirSync(path.join(dir, d), { recursive: true });
  for (const [rel, content] of template) fs.writeFileSync(path.join(dir, rel), content);
  fs.symlinkSync(extTemplate, path.join(ext, `${id(i)}.git`));
}
console.log(`bench: tree made in ${(Number(process.hrtime.bigint() - made) / 1e9).toFixed(1)} s`);

const results = {};
// Each figure as soon as it is measured: a long run stopped early still reports what it has.
const note = (k, v) => ((results[k] = v), console.log(`bench: ${k} = ${typeof v === 'number' ? Number(v.toFixed(3)) : v}`));
const init = await cli(['init', '--server', '--memfs-root', memfs, '--remote', `${ext}/{agentId}.git`, '--letta-url', lettaUrl]);
if (init.code !== 0) throw new Error(`init failed: ${init.out}`);
note('initSeconds', init.secs);
const again = await cli(['init', '--server', '--memfs-root', memfs]);
note('reinitSeconds', again.secs);
const status = await cli(['status', '--server', '--json', '--memfs-root', memfs]);
note('statusSeconds', status.secs);
note('statusAgents', /^\[/.test(status.out) ? JSON.parse(status.out).length : `failed: ${status.out.slice(0, 200)}`);


// One idle tick of the watch loop, in process (scan for new repos, poll every ref file, pending-sync check).
const { Watcher } = await import(path.join(ROOT, 'dist', 'server', 'watch', 'watcher.js'));
const { loadServerContext } = await import(path.join(ROOT, 'dist', 'server', 'setup', 'context.js'));
const ctx = await loadServerContext({ memfsRoot: memfs });
const inproc = new Watcher({ ctx, intervalSeconds: 3600 });
await inproc.cycle(); // first pass: learns every agent
const callsBefore = lettaCalls;
const t = process.hrtime.bigint();
const tick = await inproc.cycle();
note('idleWatchTickSeconds', Number(process.hrtime.bigint() - t) / 1e9);
note('idleTickPulls', tick.pulls);
note('idleTickLettaCalls', lettaCalls - callsBefore);
await inproc.stop();

// The long-running watcher: its RSS through its startup pull of every agent, until its log is quiet and it has used
// almost no CPU for 10 s (at most BENCH_WATCH_SECONDS, default 300).
const w = spawn(process.execPath, [CLI, 'watch', '--memfs-root', memfs, '--interval', '3600', '--no-listen'], {
  env: { ...process.env, LETTA_MEMFS_INTERNAL: undefined },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let lastOut = Date.now();
w.stderr.on('data', () => (lastOut = Date.now()));
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${w.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
let peak = 0;
const sampler = setInterval(() => {
  try {
    peak = Math.max(peak, rss());
  } catch {}
}, 100);
// CPU seconds the watcher has used: its startup pull logs only what changed, so a quiet log alone does not say it is done.
const cpu = () => fs.readFileSync(`/proc/${w.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0) / 100;
const waitStart = Date.now();
const cpuAt = [];
await new Promise((r) => setTimeout(r, 15_000));
for (;;) {
  cpuAt.push(cpu());
  const busy = cpuAt.length < 10 || cpuAt.at(-1) - cpuAt.at(-10) > 0.5; // over 5% of a core in the last 10 s
  if ((!busy && Date.now() - lastOut >= 10_000) || Date.now() - waitStart >= Number(process.env.BENCH_WATCH_SECONDS ?? 300) * 1000) break;
  await new Promise((r) => setTimeout(r, 1000));
}
note('watcherStartupSeconds', (Date.now() - waitStart) / 1000);
note('watcherRssMB', Math.round(rss()));
note('watcherPeakRssMB', Math.round(peak));
clearInterval(sampler);
w.kill('SIGTERM');
await new Promise((r) => w.on('close', r));
// Reference figures (BENCH_REFERENCE=1; at 10,000 agents the first pull after init runs one git update-ref each).
if (process.env.BENCH_REFERENCE) {
  // The first pull after init fetches once per agent (no remote-tracking ref yet); later idle pulls ask each
  // remote for its main without starting git.
  const first = await cli(['pull', '--all', '--memfs-root', memfs]);
  if (first.code !== 0) throw new Error(`pull failed: ${first.out}`);
  note('firstPullAllSeconds', first.secs);
  const pull = await cli(['pull', '--all', '--memfs-root', memfs]);
  if (pull.code !== 0) throw new Error(`pull failed: ${pull.out}`);
  note('idlePullAllSeconds', pull.secs);

  const once = await cli(['watch', '--once', '--memfs-root', memfs]);
  if (once.code !== 0) throw new Error(`watch --once failed: ${once.out}`);
  note('idleWatchOnceSeconds', once.secs);
}
note('lettaCallsWhileIdle', lettaCalls);
letta.close();

// Last, as it undoes the set-up: uninstall --server --all, and how many repo.git/config files it put back byte for byte.
const un = await cli(['uninstall', '--server', '--all', '--memfs-root', memfs]);
if (un.code !== 0) throw new Error(`uninstall failed: ${un.out.slice(-500)}`);
note('uninstallSeconds', un.secs);
const pristine = template.find(([rel]) => rel === 'config')[1];
note('uninstallRestored', Array.from({ length: N }, (_, i) => fs.readFileSync(path.join(memfs, 'repository', ORG, id(i), 'repo.git', 'config'))).filter((b) => b.equals(pristine)).length);

const goals = [
  ['init --server --all', `${results.initSeconds.toFixed(1)} s (re-run ${results.reinitSeconds.toFixed(1)} s)`, results.initSeconds <= 180, '<= 3 min'],
  ['status --server --json', `${results.statusSeconds.toFixed(1)} s, ${results.statusAgents} agents`, results.statusSeconds <= 10 && results.statusAgents === N, '<= 10 s'],
  ['idle watch tick (scan, ref poll, pending check)', `${results.idleWatchTickSeconds.toFixed(2)} s, ${results.idleTickPulls} pulls, ${results.idleTickLettaCalls} Letta calls`, results.idleWatchTickSeconds <= 5 && results.idleTickPulls === 0 && results.idleTickLettaCalls === 0, '<= 5 s, 0 pulls, 0 Letta calls'],
  ['watcher RSS', `${results.watcherRssMB} MB (peak ${results.watcherPeakRssMB} MB over its first ${Math.round(results.watcherStartupSeconds)} s)`, results.watcherPeakRssMB <= 300, '<= 300 MB'],
  ['Letta calls while idle (all of the above)', String(results.lettaCallsWhileIdle), results.lettaCallsWhileIdle === 0, '0'],
];
goals.push(['uninstall --server --all (reference)', `${results.uninstallSeconds.toFixed(1)} s, ${results.uninstallRestored} of ${N} configs restored byte for byte`, results.uninstallRestored === N, 'all restored']);
if (process.env.BENCH_REFERENCE) {
  goals.push(['idle pull --all (reference)', `${results.idlePullAllSeconds.toFixed(1)} s (first after init ${results.firstPullAllSeconds.toFixed(1)} s)`, true, '-']);
  goals.push(['idle watch --once, pulls every agent (reference)', `${results.idleWatchOnceSeconds.toFixed(1)} s`, true, '-']);
}
console.log(`bench: ${N} agents, node ${process.version}, git ${git(['--version']).replace('git version ', '')}, ${os.cpus().length} cpus`);
for (const [name, value, ok, goal] of goals) console.log(`${ok ? 'ok  ' : 'MISS'} ${name}: ${value} (goal ${goal})`);
console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (process.env.BENCH_KEEP) console.log(`bench: kept ${base}`);
else fs.rmSync(base, { recursive: true, force: true });
process.exitCode = goals.every((g) => g[2]) ? 0 : 1;
