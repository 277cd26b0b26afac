// What a local-backend checkout's commit pays for the background push (issue 24): the median wall and CPU time of
// `git commit` (one changed file in a 20-file repo) in two identical Letta Code local-backend checkouts, one without
// and one with `letta-memfs-hooks init` (its reference-transaction hook decides in shell and starts the push detached,
// hooks/shim.sh), timed alternately in the same loop, next to the floor of starting node (`node -e 0`) and of one
// fork+exec (`sh -c :`). Between two commits the bench waits, untimed, for the push the last one started, so a push
// never runs during a timed commit.
//
//   npm run bench:commit-overhead        (builds first; env BENCH_RUNS, default 41 timings per case)
//
// Goal: the hook adds at most 10 ms to a commit. Also checked each run: a no-op `git reset` starts no push.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hermetic, median, timed } from './hooks-rig.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'runtime', 'cli.mjs');
const RUNS = Number(process.env.BENCH_RUNS ?? 41);
const AGENT = 'agent-local-0b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b';

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);

const { tmp, env } = hermetic('lmh-bench-commit-');
const home = env.HOME!;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

function checkout(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'MEMORY.md'), '# Memory\n');
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `block-${i}.md`), `---\nname: block ${i}\ndescription: block ${i}\n---\nvalue ${i}\n`);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'initialize local memory');
  return dir;
}

const plain = checkout(path.join(tmp, 'plain', 'memory'));
const hooked = checkout(path.join(home, '.letta', 'lc-local-backend', 'memfs', AGENT, 'memory'));
const host = path.join(tmp, 'host', `${AGENT}.git`);
git(tmp, 'init', '-q', '--bare', '-b', 'main', host);
const init = spawnSync(process.execPath, [CLI, 'init', '--yes', '--remote', host], { cwd: hooked, env, encoding: 'utf8' });
if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
const pushLog = path.join(hooked, '.git', 'letta-memfs', 'push.log');
const pushes = () => (fs.existsSync(pushLog) ? fs.readFileSync(pushLog, 'utf8').split('\n').filter(Boolean).length : 0);

function waitPushes(n: number): void {
  const deadline = Date.now() + 30_000;
  while (pushes() < n) {
    if (Date.now() > deadline) throw new Error(`no push logged 30 s after a commit: ${fs.existsSync(pushLog) ? fs.readFileSync(pushLog, 'utf8') : 'no push.log'}`);
    spawnSync('sleep', ['0.02']);
  }
}

const t = { without: [] as number[], with: [] as number[], node: [] as number[], fork: [] as number[] };
const cpu = { without: 0, with: 0 };

function commitOne(dir: string, i: number): { ms: number; cpuMs: number } {
  fs.writeFileSync(path.join(dir, 'block-1.md'), `---\nname: block 1\ndescription: block 1\n---\nedit ${i}\n`);
  git(dir, 'add', 'block-1.md');
  return timed('git', ['commit', '-q', '-m', `edit ${i}`], dir, env);
}

let expected = pushes();
for (let i = 0; i < 4; i++) {
  commitOne(plain, -i);
  commitOne(hooked, -i);
  waitPushes(++expected);
}
for (let i = 0; i < RUNS; i++) {
  const order: ('without' | 'with')[] = i % 2 ? ['with', 'without'] : ['without', 'with'];
  for (const v of order) {
    const r = commitOne(v === 'with' ? hooked : plain, i);
    t[v].push(r.ms);
    cpu[v] += r.cpuMs;
    if (v === 'with') waitPushes(++expected);
  }
  t.node.push(timed(process.execPath, ['-e', '0'], tmp, env).ms);
  t.fork.push(timed('sh', ['-c', ':'], tmp, env).ms);
}

// A no-op reset rewrites main with the same commit: the hook must start no push.
git(hooked, 'reset');
spawnSync('sleep', ['1']);
const afterReset = pushes();

const host_main = git(tmp, '--git-dir', host, 'rev-parse', 'refs/heads/main');
const rows = [
  ['commit without hooks', median(t.without), cpu.without / RUNS],
  ['commit with init (reference-transaction)', median(t.with), cpu.with / RUNS],
  ['floor: node -e 0', median(t.node), NaN],
  ['floor: sh -c :', median(t.fork), NaN],
] as const;
process.stdout.write(`commit overhead, ${RUNS} runs each, git ${git(tmp, '--version').replace('git version ', '')}, node ${process.version}, load ${os.loadavg()[0].toFixed(2)}\n`);
for (const [name, ms, c] of rows) process.stdout.write(`  ${name.padEnd(44)} median ${ms.toFixed(1).padStart(6)} ms${Number.isNaN(c) ? '' : `   cpu ${c.toFixed(1)} ms/commit`}\n`);
process.stdout.write(`  added by the hook: ${(median(t.with) - median(t.without)).toFixed(1)} ms median (goal <= 10 ms)\n`);
process.stdout.write(`  pushes logged: ${afterReset} for ${RUNS + 4} commits; no-op git reset added ${afterReset - expected}; host main is the last commit: ${host_main === git(hooked, 'rev-parse', 'HEAD')}\n`);
fs.rmSync(tmp, { recursive: true, force: true });
