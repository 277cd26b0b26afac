/**
 * No lost pushes. A Letta server commit copies repo.git to a temp dir, commits there and copies the changed files
 * back, `refs/heads/main` included (git_operations.py `_commit_with_lock`, storage/local.py @ 0.16.7): a push
 * that landed in between is overwritten, reported successful to its client and gone from main (facts §6). Letta's
 * Redis lock prevents most of it when Letta has Redis; this catches the rest, with or without Redis: every push
 * the service accepted is recorded here, and later checks (the service after a delay longer than a server commit,
 * and every pull of `watch`) verify main still contains it. One it does not is merged back into main like an
 * external commit (merge.ts: the push wins a conflict, the server's side is kept under a ref) and delivered the
 * way stock mode delivers everything: pushed through Letta's proxy, whose own sync then updates the blocks.
 */
import path from 'node:path';
import { waitLock } from '../../core/lock.js';
import { readJson, stateDirOf, writeJsonAtomic } from '../../core/settings.js';
import { git } from '../../git/git.js';
import type { ProxyPushResult } from '../letta/proxy-push.js';
import type { AgentRepo } from './discover.js';
import { type ConflictRecord, keepConflict, mergeWithExternal } from '../../sync/merge.js';
import { MAIN, readRef } from '../../git/refs.js';

export interface PushRecord {
  oid: string;
  at: string;
  /** The actor that pushed (Letta's `user_id` header through the proxy); the re-merge is pushed as them. */
  userId?: string;
}

interface PushLog {
  version: 1;
  pushes: PushRecord[];
}

/** A record stays this long after main was last seen containing it: longer than Letta's commit lock (60 s). */
export const KEEP_MS = 90_000;
const MAX_RECORDS = 1000;
const MAX_ROUNDS = 6;

export const pushLogFile = (gitDir: string) => path.join(stateDirOf(gitDir), 'pushes.json');
const pushLogLock = (gitDir: string) => path.join(stateDirOf(gitDir), 'pushes.lock');

async function updateLog(gitDir: string, change: (pushes: PushRecord[]) => PushRecord[]): Promise<void> {
  const lock = await waitLock(pushLogLock(gitDir), 10_000);
  if (!lock) throw new Error(`${pushLogLock(gitDir)} stayed locked for 10 s`);
  try {
    const log = (await readJson<PushLog>(pushLogFile(gitDir))) ?? { version: 1, pushes: [] };
    await writeJsonAtomic(pushLogFile(gitDir), { version: 1, pushes: change(log.pushes).slice(-MAX_RECORDS) });
  } finally {
    await lock.release();
  }
}

export async function readPushes(gitDir: string): Promise<PushRecord[]> {
  return (await readJson<PushLog>(pushLogFile(gitDir)))?.pushes ?? [];
}

/** Records a push the service accepted (main moved to `oid`). */
export function recordPush(gitDir: string, oid: string, userId?: string, at = new Date()): Promise<void> {
  return updateLog(gitDir, (p) => [...p.filter((r) => r.oid !== oid), { oid, at: at.toISOString(), userId }]);
}

/** Pure: records to forget (contained in main and older than keepMs) and to keep. */
export function planForget(records: readonly PushRecord[], contained: ReadonlySet<string>, now: number, keepMs = KEEP_MS): Set<string> {
  return new Set(records.filter((r) => contained.has(r.oid) && now - Date.parse(r.at) >= keepMs).map((r) => r.oid));
}

/** How far back from main one rev-list looks for recorded pushes, before asking git about each one left. */
const RECENT_COMMITS = 1000;

/**
 * Whether `oid` is in `of`'s history. Records are a push each of the last 90 s, so nearly all sit among main's latest
 * commits: one rev-list lists those (`recent`, made for main as it was then); only a record not among them costs a
 * git process of its own. A pull of a busy agent checked dozens of records one process each (issue 22).
 */
async function isAncestor(gitDir: string, oid: string, of: string | undefined, recent?: { tip: string; commits: Set<string> }): Promise<boolean> {
  if (!of) return false;
  if (oid === of || (recent?.tip === of && recent.commits.has(oid))) return true;
  return (await git(['merge-base', '--is-ancestor', oid, of], { gitDir, allowFailure: true })).exitCode === 0;
}

async function recentCommits(gitDir: string, tip: string | undefined): Promise<{ tip: string; commits: Set<string> } | undefined> {
  if (!tip) return undefined;
  const r = await git(['rev-list', `--max-count=${RECENT_COMMITS}`, tip], { gitDir, allowFailure: true });
  return r.exitCode === 0 ? { tip, commits: new Set(r.stdout.split('\n').filter(Boolean)) } : undefined;
}

export type Deliver = (commit: string, userId: string | undefined) => Promise<ProxyPushResult>;

export interface RecoverOutcome {
  checked: number;
  /** Pushes main had lost, and the merge commits that brought each back. */
  restored: { oid: string; merge: string }[];
  conflicts: ConflictRecord[];
  error?: string;
}

/**
 * Checks every recorded push against main and merges back the ones it lost. The caller holds the agent's pull lock
 * (merges and conflict refs are the pull's business) and records `conflicts` in the pull state.
 */
export async function recoverPushesLocked(repo: AgentRepo, deliver: Deliver, now = Date.now()): Promise<RecoverOutcome> {
  const out: RecoverOutcome = { checked: 0, restored: [], conflicts: [] };
  const records = await readPushes(repo.gitDir);
  if (records.length === 0) return out;
  const contained = new Set<string>();
  const tip = await readRef(repo.gitDir, MAIN);
  // Only a record that is not main itself needs the list.
  const recent = records.some((r) => r.oid !== tip) ? await recentCommits(repo.gitDir, tip) : undefined;
  // Newest first: merging a later push brings back the earlier ones it descends from.
  for (const r of [...records].reverse()) {
    out.checked++;
    for (let round = 0; ; round++) {
      const main = await readRef(repo.gitDir, MAIN);
      if (await isAncestor(repo.gitDir, r.oid, main, recent)) {
        contained.add(r.oid);
        break;
      }
      if (out.error || round >= MAX_ROUNDS || !main) {
        out.error ??= `main kept moving while ${r.oid.slice(0, 12)} was merged back`;
        break;
      }
      const mb = await git(['merge-base', main, r.oid], { gitDir: repo.gitDir, allowFailure: true });
      const merged = await mergeWithExternal(repo.gitDir, main, r.oid, mb.exitCode === 0 ? mb.stdout : undefined, 'Letta server', 'a push a Letta server commit overwrote');
      const conflict = merged.paths.length > 0 ? await keepConflict(repo.gitDir, main, r.oid, merged) : undefined;
      const sent = await deliver(merged.commit, r.userId);
      if (sent === 'rejected') continue;
      if (sent !== 'ok') {
        out.error = `cannot deliver the merge of lost push ${r.oid.slice(0, 12)}: ${sent.error}`;
        break;
      }
      out.restored.push({ oid: r.oid, merge: merged.commit });
      if (conflict) out.conflicts.push(conflict);
    }
  }
  const forget = planForget(records, contained, now);
  if (forget.size > 0) await updateLog(repo.gitDir, (p) => p.filter((r) => !forget.has(r.oid)));
  return out;
}
