import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { git, gitToFile } from '../../git/git.js';
import { quarantines, removeQuarantines } from '../../git/quarantine.js';
import { waitLock } from '../../core/lock.js';
import { type RedisTarget, redisFromEnv, withMemoryRepoLock } from '../letta/redis-lock.js';
import type { AgentRepo } from './discover.js';
import { hasDeletions, type MaintenancePlan, type MaintenancePolicy, parsePackIndex, planMaintenance, type RepoObjects } from './maintenance.js';
import { pullLockFile } from '../../sync/state.js';

const FANOUT = /^[0-9a-f]{2}$/;
const LOOSE = /^[0-9a-f]{38}$/;
const PACK_EXTS = ['idx', 'pack', 'rev', 'bitmap', 'mtimes'] as const; // .idx first: without it git ignores the pack

const list = (dir: string) => fs.readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));

/** Loose object and pack counts from directory listings only: the cheap check `watch` runs after a repo changed. */
export async function countObjectFiles(gitDir: string): Promise<{ loose: number; packs: number }> {
  const objects = path.join(gitDir, 'objects');
  const fan = (await list(objects)).filter((d) => FANOUT.test(d));
  const counts = await Promise.all(fan.map(async (d) => (await list(path.join(objects, d))).filter((f) => LOOSE.test(f)).length));
  const packs = (await list(path.join(objects, 'pack'))).filter((f) => f.endsWith('.idx')).length;
  return { loose: counts.reduce((a, b) => a + b, 0), packs };
}

/** What the planner needs, read from the object directory (pack indexes parsed here, no git process). */
export async function inspectObjects(gitDir: string): Promise<RepoObjects> {
  const objects = path.join(gitDir, 'objects');
  const packDir = path.join(objects, 'pack');
  const fan = (await list(objects)).filter((d) => FANOUT.test(d));
  const loose = (await Promise.all(fan.map(async (d) => (await list(path.join(objects, d))).filter((f) => LOOSE.test(f)).map((f) => d + f)))).flat();
  const files = new Set(await list(packDir));
  const names = [...files].filter((f) => /^pack-[0-9a-f]+\.idx$/.test(f)).map((f) => f.slice(0, -4));
  const packs = await Promise.all(
    names.map(async (name) => {
      const idx = path.join(packDir, `${name}.idx`);
      const [st, buf] = await Promise.all([fs.stat(idx), fs.readFile(idx)]);
      return { name, visibleAtMs: st.mtimeMs, keep: files.has(`${name}.keep`), objects: files.has(`${name}.pack`) ? parsePackIndex(buf) : undefined };
    }),
  );
  const orphanFiles = [...files].filter((f) => /^pack-[0-9a-f]+\.pack$/.test(f) && !files.has(f.replace(/\.pack$/, '.idx')));
  const orphans = await Promise.all(orphanFiles.map(async (file) => ({ file, mtimeMs: (await fs.stat(path.join(packDir, file))).mtimeMs })));
  return { loose, packs, orphans };
}

/**
 * Writes one pack holding every object in the repo (loose, packed, reachable or not), built outside repo.git and
 * renamed in .pack first, .idx last: Letta's copies list everything under repo.git, so nothing of ours may appear
 * half-written or vanish there (`git repack` would write tmp_pack_* files inside). Returns the pack's name.
 */
async function writePack(gitDir: string): Promise<string | undefined> {
  const all = await git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname)'], { gitDir });
  if (all.stdout.trim() === '') return undefined;
  const tmp = await fs.mkdtemp(path.join(path.dirname(gitDir), '.letta-memfs-pack-'));
  try {
    const pack = path.join(tmp, 'new.pack');
    await gitToFile(['pack-objects', '--stdout', '-q'], pack, { gitDir, input: all.stdout.trim() + '\n' });
    const indexed = await git(['index-pack', pack], { gitDir });
    const name = `pack-${/[0-9a-f]{40,64}/.exec(indexed.stdout)?.[0]}`;
    const packDir = path.join(gitDir, 'objects', 'pack');
    await fs.mkdir(packDir, { recursive: true });
    if (await fs.stat(path.join(packDir, `${name}.idx`)).catch(() => undefined)) return name;
    for (const ext of ['pack', 'rev', 'idx']) {
      const from = path.join(tmp, `new.${ext}`);
      if (!(await fs.stat(from).catch(() => undefined))) continue;
      await fs.chmod(from, 0o444);
      await fs.rename(from, path.join(packDir, `${name}.${ext}`));
    }
    // The grace period runs from when the pack became visible, not from when index-pack wrote it.
    const now = new Date();
    await fs.utimes(path.join(packDir, `${name}.idx`), now, now);
    return name;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function deleteRedundant(gitDir: string, plan: MaintenancePlan): Promise<void> {
  const objects = path.join(gitDir, 'objects');
  const packDir = path.join(objects, 'pack');
  for (const name of plan.deletePacks) for (const ext of PACK_EXTS) await fs.rm(path.join(packDir, `${name}.${ext}`), { force: true });
  for (const f of plan.deleteOrphans) await fs.rm(path.join(packDir, f), { force: true });
  for (const oid of plan.deleteLoose) await fs.rm(path.join(objects, oid.slice(0, 2), oid.slice(2)), { force: true });
  // Emptied fan-out dirs go too (rmdir refuses a dir that got a new object meanwhile; git recreates dirs it needs).
  for (const d of new Set(plan.deleteLoose.map((o) => o.slice(0, 2)))) await fs.rmdir(path.join(objects, d)).catch(() => undefined);
}

export interface MaintenanceResult {
  agentId: string;
  plan: MaintenancePlan;
  /** The pack written, when one was. */
  packed?: string;
  /** Deletions were due but a Letta server commit held its Redis lock: left for the next run. */
  busy: boolean;
  /** When to run again for deletions that wait for a pack to settle. */
  dueAtMs?: number;
  /** Stale push quarantine dirs removed (or, on a dry run, found). */
  quarantines: number;
}

/**
 * A push quarantine unchanged for this long belongs to no running push: serve ends every request within its
 * --timeout, at most a day.
 */
export const STALE_QUARANTINE_MS = 24 * 3600 * 1000 + 60_000;

export interface MaintainOptions {
  policy: MaintenancePolicy;
  dryRun?: boolean;
  redis?: RedisTarget;
}

/**
 * One maintenance pass over one repo.git: deletions the plan allows (under Letta's Redis lock when Redis is
 * configured), then a new pack when a threshold is reached. Holds our pull lock, so it never interleaves with our
 * own fetches and merges into the same repo.
 */
export async function maintainRepo(repo: AgentRepo, opts: MaintainOptions): Promise<MaintenanceResult> {
  const lockFile = pullLockFile(repo.gitDir);
  const lock = await waitLock(lockFile, 60_000);
  if (!lock) throw new UserError(`${repo.agentId}: a pull has held the lock for a minute`, `run maintain again later, or remove ${lockFile} if no letta-memfs-hooks process runs`);
  try {
    const plan = planMaintenance(await inspectObjects(repo.gitDir), Date.now(), opts.policy);
    const staleBefore = Date.now() - STALE_QUARANTINE_MS;
    if (opts.dryRun) {
      const stale = (await quarantines(repo.gitDir)).filter((q) => q.changedMs < staleBefore).length;
      return { agentId: repo.agentId, plan, busy: false, dueAtMs: plan.dueAtMs, quarantines: stale };
    }
    const removed = await removeQuarantines(repo.gitDir, staleBefore);
    let busy = false;
    if (hasDeletions(plan)) {
      busy = !(await withMemoryRepoLock(repo.agentId, () => deleteRedundant(repo.gitDir, plan), opts.redis ?? redisFromEnv())).acquired;
    }
    const packed = plan.pack ? await writePack(repo.gitDir) : undefined;
    const dueAtMs = packed ? Date.now() + opts.policy.graceMs : busy ? Date.now() + 5_000 : plan.dueAtMs;
    return { agentId: repo.agentId, plan, packed, busy, dueAtMs, quarantines: removed };
  } finally {
    await lock.release();
  }
}

/** One line on what a pass did (or would do); '' when it found nothing to do. */
export function describeMaintenance(r: MaintenanceResult, dryRun = false): string {
  const p = r.plan;
  const parts: string[] = [];
  if (p.pack && (dryRun || r.packed)) parts.push(dryRun ? 'would pack every object into one pack' : `packed into ${r.packed}`);
  const doomed = p.deleteLoose.length + p.deletePacks.length + p.deleteOrphans.length;
  if (r.busy) parts.push('deletions left for later: a Letta commit holds its Redis lock');
  else if (doomed > 0) parts.push(`${dryRun ? 'would delete' : 'deleted'} ${p.deleteLoose.length} loose objects and ${p.deletePacks.length + p.deleteOrphans.length} packs already in a settled pack`);
  if (r.quarantines > 0) parts.push(`${dryRun ? 'would remove' : 'removed'} ${r.quarantines} stale push quarantine dir(s) (objects/tmp_objdir-incoming-*)`);
  if (r.dueAtMs) parts.push(`more becomes deletable at ${new Date(r.dueAtMs).toISOString()}`);
  return parts.join('; ');
}

export type MaintenanceOutcome = 'packed' | 'deleted' | 'busy' | 'none';

/**
 * For `watch`, after a pull changed the repo: a directory-listing check first, the full pass past a threshold or when
 * due. `loose`: the repo's loose objects as counted last; `outcome`: what a full pass did, when one ran.
 */
export async function maintainIfNeeded(
  repo: AgentRepo,
  policy: MaintenancePolicy,
  due: boolean,
  redis?: RedisTarget,
): Promise<{ dueAtMs?: number; summary?: string; loose: number; outcome?: MaintenanceOutcome }> {
  if (!due) {
    const c = await countObjectFiles(repo.gitDir);
    if (c.loose < policy.looseThreshold && c.packs < policy.packThreshold) return { loose: c.loose };
  }
  const r = await maintainRepo(repo, { policy, redis });
  const outcome = r.packed ? 'packed' : r.busy ? 'busy' : hasDeletions(r.plan) ? 'deleted' : 'none';
  return { dueAtMs: r.dueAtMs, summary: describeMaintenance(r) || undefined, loose: (await countObjectFiles(repo.gitDir)).loose, outcome };
}

/** Files and bytes under repo.git: what every Letta read and commit copies. */
export async function repoFileStats(gitDir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const e of await fs.readdir(gitDir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await fs.stat(path.join(e.parentPath ?? e.path, e.name))).size;
  }
  return { files, bytes };
}
