// What the client hooks cost git: median wall time of `git checkout` (switching between two branches) and of a
// no-op `git pull`, in the same checkout before and after `letta-memfs-hooks init`, and their ratio.
//
//   npm run bench:hook-overhead        (builds first; env BENCH_RUNS, default 41 timings per case)
//
// The external remote is a local bare repo reached through the same url.<x>.insteadOf redirect init writes (file
// transport: the cheapest pull there is, so the hooks' share is at its largest). Target (issue 2): ratio <= 1.5;
// node alone takes ~55 ms to start, so the client's post-checkout/post-merge must not start it (hooks/shim.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 41);
const AGENT = 'agent-123e4567-e89b-42d3-a456-426614174000';
const LETTA = `http://127.0.0.1:9/v1/git/${AGENT}/state.git`;

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-bench-')));
const env: NodeJS.ProcessEnv = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('GIT_') || k.startsWith('LETTA_')) delete env[k];
Object.assign(env, {
  HOME: path.join(tmp, 'home'),
  XDG_CONFIG_HOME: path.join(tmp, 'home', '.config'),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@example.invalid',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@example.invalid',
});
fs.mkdirSync(env.HOME!, { recursive: true });

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

function setup(): { plain: string; hooked: string; bare: string } {
  const seed = path.join(tmp, 'seed');
  fs.mkdirSync(path.join(seed, 'system'), { recursive: true });
  git(seed, 'init', '-q', '-b', 'main');
  for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(seed, 'system', `block-${i}.md`), `---\ndescription: block ${i}\n---\nvalue ${i}\n`);
  git(seed, 'add', '-A');
  git(seed, 'commit', '-q', '-m', 'main');
  git(seed, 'checkout', '-q', '-b', 'other');
  for (let i = 0; i < 40; i += 2) fs.writeFileSync(path.join(seed, 'system', `block-${i}.md`), `---\ndescription: block ${i}\n---\nother ${i}\n`);
  git(seed, 'commit', '-q', '-am', 'other');
  git(seed, 'checkout', '-q', 'main');
  const bare = path.join(tmp, 'external.git');
  git(tmp, 'clone', '-q', '--bare', seed, bare);
  // Two identical checkouts as Letta Code leaves them (origin is the Letta URL, redirected to the external repo);
  // only the second gets `init`. Timing them alternately keeps load changes on the machine out of the ratio.
  const make = (dir: string) => {
    git(tmp, 'clone', '-q', bare, dir);
    git(dir, 'remote', 'set-url', 'origin', LETTA);
    git(dir, 'config', `url.${bare}.insteadOf`, LETTA);
    git(dir, 'branch', '-q', '--track', 'other', 'origin/other');
    return dir;
  };
  return { plain: make(path.join(tmp, 'plain', 'memory')), hooked: make(path.join(tmp, 'home', '.letta', 'agents', AGENT, 'memory')), bare };
}

function time(cwd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('git', args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

type Timings = { checkout: number[]; pull: number[] };

function measure(plain: string, hooked: string): { without: Timings; with: Timings } {
  const out = { without: { checkout: [], pull: [] } as Timings, with: { checkout: [], pull: [] } as Timings };
  for (const dir of [plain, hooked]) for (let i = 0; i < 4; i++) time(dir, ['checkout', '-q', i % 2 ? 'main' : 'other']); // warm caches
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first: the second of a pair finds the external repo warmer in the page cache.
    const pair = [[plain, out.without], [hooked, out.with]] as const;
    for (const [dir, t] of i % 2 ? [pair[1], pair[0]] : pair) {
      t.checkout.push(time(dir, ['checkout', '-q', 'other']));
      t.checkout.push(time(dir, ['checkout', '-q', 'main']));
      t.pull.push(time(dir, ['pull', '-q', '--ff-only']));
    }
  }
  return out;
}

try {
  const { plain, hooked, bare } = setup();
  const init = spawnSync(process.execPath, [CLI, 'init', '--yes', '--no-verify', '--letta-url', 'http://127.0.0.1:9', '--remote', bare], {
    cwd: hooked,
    env,
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
  const hooks = fs.readdirSync(path.join(hooked, '.git', 'hooks')).filter((f) => !f.endsWith('.sample'));
  const t = measure(plain, hooked);
  // The hooks really ran during the timed checkouts (else the ratio would measure nothing).
  if (!fs.existsSync(path.join(hooked, '.git', 'letta-memfs', 'last-post-checkout'))) throw new Error('post-checkout hook did not run');
  const without = { checkout: median(t.without.checkout), pull: median(t.without.pull) };
  const withHooks = { checkout: median(t.with.checkout), pull: median(t.with.pull) };
  const ratio = { checkout: withHooks.checkout / without.checkout, pull: withHooks.pull / without.pull };
  const f = (n: number) => n.toFixed(1).padStart(6);
  console.log(`hook overhead, median of ${RUNS * 2} checkouts and ${RUNS} no-op pulls (hooks: ${hooks.join(', ')})`);
  console.log(`                 without   with hooks   ratio`);
  console.log(`git checkout   ${f(without.checkout)} ms ${f(withHooks.checkout)} ms   ${ratio.checkout.toFixed(2)}`);
  console.log(`git pull no-op ${f(without.pull)} ms ${f(withHooks.pull)} ms   ${ratio.pull.toFixed(2)}`);
  console.log(JSON.stringify({ bench: 'hook-overhead', runs: RUNS, without, with: withHooks, ratio, target: 1.5 }));
  process.exitCode = ratio.checkout <= 1.5 && ratio.pull <= 1.5 ? 0 : 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
