/**
 * No-loss property: randomized interleavings of Letta server edits (including a stale temp copy that overwrites
 * refs/heads/main after we moved it), pushes from two clients to the external repo, pulls (with client pushes and
 * server copy-backs injected between pull's own steps) and watcher cycles. Afterwards every commit made on either
 * side must be an ancestor of main in repo.git and on the external host, or be kept under a conflict ref.
 * Seeded: LMH_SEED=<n> replays a run; LMH_INTERLEAVINGS=<n> changes the count (default 1000). Interleaving i runs
 * seed LMH_SEED + 7919 i, so a failure's own seed with LMH_INTERLEAVINGS=1 replays just it. The fixed-input tests of
 * each rule (never force, CAS on main, conflict kept) are in pull.test.ts.
 */
import { mulberry32 } from '../helpers/prng.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/setup/context.js';
import type { AgentRepo } from '../../src/server/repo/discover.js';
import { initAgent } from '../../src/server/setup/init-server.js';
import { type PullInjections, pullAgent } from '../../src/server/repo/pull.js';
import { CONFLICT_PREFIX } from '../../src/sync/merge.js';
import { readRef } from '../../src/git/refs.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { Watcher } from '../../src/server/watch/watcher.js';
import { beginServerEdit, g, ORG_ID, repoGitDir, serverEdit, type ServerEdit } from '../fixtures/server-repo.js';
import { clientPush, type Harness, makeHarness } from './harness.js';

const COUNT = Number(process.env.LMH_INTERLEAVINGS ?? 1000);
const SEED = Number(process.env.LMH_SEED ?? Date.now() % 2 ** 31);
const CONCURRENCY = 3;
const AGENT = 'agent-0b5e1c2d-3f4a-4b6c-8d7e-9f0a1b2c3d4e';


let h: Harness;
let templateRepo: string;
let templateExt: string;

beforeAll(async () => {
  h = await makeHarness();
  // One Letta-made repo, set up once by init; each interleaving copies it (and a matching external repo).
  const a = await h.addAgent({ 'system/human.md': 'human 0\n', 'system/persona.md': 'persona 0\n', 'notes/a.md': 'a 0\n' }, AGENT);
  await initAgent(a, h.config);
  // git init's sample hooks only cost copying time here (Letta's repos have them; nothing runs them).
  for (const f of await fs.readdir(path.join(a.gitDir, 'hooks'))) if (f.endsWith('.sample')) await fs.rm(path.join(a.gitDir, 'hooks', f));
  templateRepo = a.gitDir;
  templateExt = h.extPath(AGENT);
  await g(h.root, [`--git-dir=${templateRepo}`, 'push', '-q', templateExt, 'main:main']);
});
afterAll(async () => h?.cleanup());

interface Counts {
  interleavings: number;
  commits: number;
  onBothMains: number;
  underConflictRef: number;
  lost: number;
  conflicts: number;
  merges: number;
  serverOverwrites: number;
  ops: number;
}

const FILES = ['system/human.md', 'system/persona.md', 'notes/a.md', 'notes/b.md'];

let clock = 1_700_000_000;
async function fastPush(ext: string, file: string, text: string): Promise<string> {
  const old = await readRef(ext, 'refs/heads/main');
  const msg = `client c2 edit ${file}`;
  const when = clock++;
  const stream = [
    'commit refs/heads/main',
    `author Client Two <c2@example.com> ${when} +0000`,
    `committer Client Two <c2@example.com> ${when} +0000`,
    `data ${Buffer.byteLength(msg)}`,
    msg,
    `from ${old}`,
    `M 100644 inline ${file}`,
    `data ${Buffer.byteLength(text)}`,
    text,
    '',
  ].join('\n');
  await g(path.dirname(ext), [`--git-dir=${ext}`, 'fast-import', '--quiet'], { input: stream });
  return (await readRef(ext, 'refs/heads/main'))!;
}

async function interleaving(i: number, counts: Counts): Promise<string | undefined> {
  const seed = (SEED + i * 7919) >>> 0;
  const rnd = mulberry32(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const dir = path.join(h.root, `run-${i}`);
  const memfsRoot = path.join(dir, 'memfs');
  const gitDir = repoGitDir(memfsRoot, AGENT);
  const ext = path.join(dir, 'ext.git');
  await Promise.all([fs.cp(templateRepo, gitDir, { recursive: true }), fs.cp(templateExt, ext, { recursive: true })]);
  const repo: AgentRepo = { agentId: AGENT, orgId: ORG_ID, gitDir };
  const config = { ...h.config, memfsRoot, remote: ext };
  await initAgent(repo, config); // re-init points the copied repo at this interleaving's external repo
  const ctx: ServerContext = { config, memfsRoot, letta: h.lettaOpts };
  const made: string[] = [];
  const log: string[] = [];
  let stale: ServerEdit | undefined;
  let n = 0;
  const content = () => `v${i}-${n++}-${Math.floor(rnd() * 1e6)}\n`;
  // Client c1 is a real checkout (clone, pull --rebase, commit, push); client c2 lands its commit with one
  // `git fast-import` on top of the external main, as a client that pulled just before pushing would: the same
  // new commit and ref update on the host, at a fraction of the processes, so 1,000 interleavings fit in minutes.
  const client = async (who: 'c1' | 'c2') => {
    const f = pick(FILES);
    log.push(`${who} push ${f}`);
    made.push(who === 'c1' ? await clientPush(ext, path.join(dir, who), f, content()) : await fastPush(ext, f, content()));
  };
  const server = async () => {
    const label = pick(['system/human', 'system/persona', 'notes/b']);
    log.push(`server edit ${label}`);
    made.push(await serverEdit(gitDir, { label, content: content() }));
  };
  const finishStale = async () => {
    if (!stale) return;
    log.push('server stale copy lands');
    counts.serverOverwrites++;
    made.push(await stale.finish());
    stale = undefined;
  };
  const injected = async () => {
    const r = rnd();
    if (r < 0.3) await client(pick(['c1', 'c2']));
    else if (r < 0.55) await finishStale();
  };
  const pull = async (inject: boolean) => {
    const at = pick(['afterFetch', 'beforeUpdateRef', 'beforePush'] as const);
    const injections: PullInjections = {};
    let fired = false;
    if (inject) {
      injections[at] = async () => {
        if (fired) return;
        fired = true;
        log.push(`(inject at ${at})`);
        await injected();
      };
    }
    log.push(`pull${inject ? ` +inject@${at}` : ''}`);
    const o = await pullAgent(repo, { ...ctx, inject: injections });
    if (o.error) throw new Error(`pull failed: ${o.error}`);
    if (o.conflict) counts.conflicts++;
    if (o.steps.some((s) => s.includes('merge'))) counts.merges++;
  };

  try {
    return await run();
  } finally {
    await stale?.abort();
    await fs.rm(dir, { recursive: true, force: true });
  }

  async function run(): Promise<string | undefined> {
    const steps = 3 + Math.floor(rnd() * 6);
    for (let s = 0; s < steps; s++) {
      counts.ops++;
      const r = rnd();
      if (r < 0.2) {
        await finishStale();
        await server();
      }
      else if (r < 0.3 && !stale) {
        const label = pick(['system/human', 'system/persona', 'notes/b']);
        log.push(`server begins edit ${label} (temp copy)`);
        stale = await beginServerEdit(gitDir, { label, content: content() });
      } else if (r < 0.4) await finishStale();
      else if (r < 0.55) await client('c1');
      else if (r < 0.65) await client('c2');
      else if (r < 0.8) await pull(false);
      else if (r < 0.92) await pull(true);
      else {
        log.push('watcher cycle');
        const w = new Watcher({ ctx, intervalSeconds: 3600 });
        await w.cycle();
        await finishStale();
        await w.cycle();
        await w.stop();
      }
      // Overlapping server edits would be Letta's own loss (no Redis lock): never start one while a copy is out.
      if (stale && rnd() < 0.2) await finishStale();
    }
    await finishStale();
    // Settle: pulls until nothing moves.
    for (let k = 0; k < 4; k++) {
      const o = await pullAgent(repo, ctx);
      if (o.error) throw new Error(`settle pull failed: ${o.error}`);
      if (o.conflict) counts.conflicts++;
      if (o.steps.length === 0) break;
    }
    const local = await g(dir, [`--git-dir=${gitDir}`, 'rev-parse', 'main']);
    const remote = await g(dir, [`--git-dir=${ext}`, 'rev-parse', 'main']);
    const onLocal = new Set((await g(dir, [`--git-dir=${gitDir}`, 'rev-list', 'main'])).split('\n'));
    const onRemote = new Set((await g(dir, [`--git-dir=${ext}`, 'rev-list', 'main'])).split('\n'));
    const conflictRefs = (await g(dir, [`--git-dir=${gitDir}`, 'for-each-ref', '--format=%(refname)', CONFLICT_PREFIX])).split('\n').filter(Boolean);
    const kept = new Set(conflictRefs.length ? (await g(dir, [`--git-dir=${gitDir}`, 'rev-list', ...conflictRefs])).split('\n') : []);
    const state = await readSyncState(gitDir);
    let problem: string | undefined;
    if (local !== remote) problem = `mains differ after settling: ${local} vs ${remote}`;
    if (state.lastSynced !== local) problem = `last synced ${state.lastSynced} is not main ${local}`;
    for (const c of made) {
      counts.commits++;
      if (onLocal.has(c) && onRemote.has(c)) counts.onBothMains++;
      else if (kept.has(c)) counts.underConflictRef++;
      else {
        counts.lost++;
        problem = `commit ${c} lost`;
      }
    }
    counts.interleavings++;
    return problem ? `seed ${seed} (interleaving ${i}; replay alone: LMH_SEED=${seed} LMH_INTERLEAVINGS=1): ${problem}\n  ops: ${log.join(' | ')}` : undefined;
  }
}

it(`no commit is lost in ${COUNT} randomized interleavings`, async () => {
  console.log(`no-loss property: seed ${SEED} (replay with LMH_SEED=${SEED}), ${COUNT} interleavings`);
  const counts: Counts = { interleavings: 0, commits: 0, onBothMains: 0, underConflictRef: 0, lost: 0, conflicts: 0, merges: 0, serverOverwrites: 0, ops: 0 };
  const failures: string[] = [];
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COUNT) {
        const i = next++;
        const f = await interleaving(i, counts).catch((e: Error) => `interleaving ${i} (seed ${(SEED + i * 7919) >>> 0}; replay alone: LMH_SEED=${(SEED + i * 7919) >>> 0} LMH_INTERLEAVINGS=1) threw: ${e.message}`);
        if (f) failures.push(f);
      }
    }),
  );
  console.log(`no-loss property: ${JSON.stringify(counts)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  expect(failures.slice(0, 3)).toEqual([]);
  expect(counts.interleavings).toBe(COUNT);
  expect(counts.lost).toBe(0);
  expect(counts.commits).toBeGreaterThan(COUNT);
}, 1_500_000);
