// `restore` over BENCH_AGENTS (1,000) agents from a local host, with the floor in the same run (issue 19).
//
//   npm run bench:restore          env: BENCH_AGENTS (1000), BENCH_TMP (default the OS temp dir), BENCH_KEEP=1
//
// The host: one bare repo per agent under <tmp>/host (copies of one Letta-like repo: 3 block files, 5 commits), the
// remote template a local path. The server lost its memfs volume: <memfs>/repository is empty. Letta is the test
// stand-in (test/fixtures/letta-double.ts, in this process): it lists the agents and answers sync-from-git at once,
// so the sync figure is our side of the calls only (a real Letta's sync reads the repo and writes Postgres: see the
// e2e, test/e2e/restore.e2e.test.ts). Measured, each on a fresh memfs root:
//   floor:   `git clone --bare <path>` of the same repos, 8 at a time (restore's concurrency); and with --no-local
//            (a pack transfer, as restore's fetch does, instead of hard links)
//   restore --no-sync:  clone into Letta's layout + init --server's set-up + pull's check, no Letta sync
//   restore:            the same plus one sync-from-git per agent (to the stand-in)
//   restore again:      the no-op re-run (git fsck, ls-remote, set-up check, pull's probe per agent)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLettaDouble } from '../test/fixtures/letta-double.js';
import { isolatedEnv } from './isolated-env.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'runtime', 'cli.mjs');
const N = Number(process.env.BENCH_AGENTS ?? 1000);
const ORG = 'org-00000000-0000-4000-8000-000000000000';
if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'lmh-bench-restore-')));
const env = isolatedEnv(path.join(tmp, 'home'));
const id = (i: number) => `agent-${String(i).padStart(8, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`;
const ids = Array.from({ length: N }, (_, i) => id(i));

function run(cmd: string, args: string[], cwd = tmp): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
  });
}
async function ok(cmd: string, args: string[], cwd = tmp): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.out.slice(-2000)}`);
  return r.out;
}
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e9];
}
async function eightAtATime(fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < N) await fn(next++);
  }));
}

// The host: a Letta-like history (Initial commit, then block edits), copied per agent.
const work = path.join(tmp, 'template');
fs.mkdirSync(path.join(work, 'system'), { recursive: true });
await ok('git', ['init', '-q', '-b', 'main'], work);
for (const [i, v] of ['Ada', 'Ada Lovelace', 'Ada, mathematician', 'Ada, who wrote the first program', 'Ada (restored)'].entries()) {
  fs.writeFileSync(path.join(work, 'system', 'human.md'), `---\ndescription: The human\n---\nName: ${v}\n`);
  fs.writeFileSync(path.join(work, 'system', 'persona.md'), `---\ndescription: Persona\n---\nHelpful, edit ${i}.\n`);
  fs.writeFileSync(path.join(work, 'notes.md'), `---\ndescription: Notes\n---\n${'note line\n'.repeat(20 + i)}`);
  await ok('git', ['add', '-A'], work);
  await ok('git', ['commit', '-q', '-m', i === 0 ? 'Initial commit' : 'Update system/human block'], work);
}
const template = path.join(tmp, 'template.git');
await ok('git', ['clone', '-q', '--bare', '--no-local', work, template]);
const host = path.join(tmp, 'host');
const [, madeSecs] = await timed(async () => {
  for (const a of ids) fs.cpSync(template, path.join(host, `${a}.git`), { recursive: true });
});
console.log(`bench: ${N} host repos (5 commits, 3 block files each) made in ${madeSecs.toFixed(1)} s under ${tmp}`);

const letta = await startLettaDouble({ memfsRoot: path.join(tmp, 'memfs-full'), knownAgents: ids });

/** A memfs root whose repository dir is gone, with the settings init --server recorded. */
function lostVolume(name: string, lettaUrl: string): string {
  const root = path.join(tmp, name);
  fs.mkdirSync(path.join(root, 'repository', ORG), { recursive: true });
  fs.writeFileSync(path.join(root, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${host}/{agentId}.git`, lettaUrl, serverMode: 'patched', memfsRoot: root }));
  return root;
}

const floorDir = path.join(tmp, 'floor');
fs.mkdirSync(floorDir);
const [, floorSecs] = await timed(() => eightAtATime((i) => ok('git', ['clone', '-q', '--bare', path.join(host, `${ids[i]}.git`), path.join(floorDir, `${i}.git`)])));
const floorPackDir = path.join(tmp, 'floor-no-local');
fs.mkdirSync(floorPackDir);
const [, floorPackSecs] = await timed(() => eightAtATime((i) => ok('git', ['clone', '-q', '--bare', '--no-local', path.join(host, `${ids[i]}.git`), path.join(floorPackDir, `${i}.git`)])));
console.log(`floor: git clone --bare, 8 at a time: ${floorSecs.toFixed(1)} s (${((floorSecs / N) * 1000).toFixed(1)} ms/agent); with --no-local: ${floorPackSecs.toFixed(1)} s`);

const check = (root: string, out: string, what: string) => {
  const restored = ids.filter((a) => fs.existsSync(path.join(root, 'repository', ORG, a, 'repo.git', 'refs', 'heads', 'main'))).length;
  const failed = (out.match(/restore failed|pull failed|sync failed/g) ?? []).length;
  if (restored !== N || failed > 0) throw new Error(`${what}: ${restored} of ${N} restored, ${failed} failures:\n${out.slice(-3000)}`);
};

const noSync = lostVolume('memfs-nosync', letta.url);
const [noSyncOut, noSyncSecs] = await timed(() => ok('node', [CLI, 'restore', '--memfs-root', noSync, '--no-sync']));
check(noSync, noSyncOut, 'restore --no-sync');
console.log(`restore --no-sync (clone + set-up, no Letta sync): ${noSyncSecs.toFixed(1)} s (${((noSyncSecs / N) * 1000).toFixed(1)} ms/agent) = ${(noSyncSecs / floorSecs).toFixed(1)}x the floor (${(noSyncSecs / floorPackSecs).toFixed(1)}x --no-local)`);

const full = lostVolume('memfs-full', letta.url);
const before = letta.calls.length;
const [fullOut, fullSecs] = await timed(() => ok('node', [CLI, 'restore', '--memfs-root', full]));
check(full, fullOut, 'restore');
const syncs = letta.calls.slice(before).filter((c) => c.status === 200).length;
console.log(`restore (clone + set-up + sync-from-git to the stand-in): ${fullSecs.toFixed(1)} s (${((fullSecs / N) * 1000).toFixed(1)} ms/agent); ${syncs} sync calls`);

const callsBefore = letta.calls.length;
const [againOut, againSecs] = await timed(() => ok('node', [CLI, 'restore', '--memfs-root', full]));
if (!againOut.includes(`${N} agent(s), 0 cloned from the host, 0 failed`)) throw new Error(`re-run: ${againOut.slice(-1000)}`);
console.log(`restore again (nothing to do): ${againSecs.toFixed(1)} s; ${letta.calls.length - callsBefore} sync calls`);
console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (${os.cpus().length} cores)`);

await letta.close();
if (!process.env.BENCH_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
