/** The local-backend part of client `status`: last background push, last pull round, and conflict refs kept. */
import fs from 'node:fs/promises';
import { git, type RepoPaths } from '../git/git.js';
import { CONFLICT_PREFIX } from '../sync/merge.js';
import { readPullState } from '../sync/state.js';
import { pushLogFile } from './background-push.js';
import { LOCAL_TRACKING_REF } from './local-backend.js';
import { readRefusal, type Refusal, refusalFix, refusalReason } from './merge-refusal.js';

export interface LocalSyncStatus {
  /** The last line of `<state dir>/push.log` (one per background push). */
  lastBackgroundPush?: string;
  lastPullRound?: { at: string; error?: string };
  /** Each conflict ref still present: this checkout's side of a conflict the host's version won. Delete it when dealt with. */
  conflicts: { ref: string; oid: string; paths: string[]; at?: string }[];
  /** A merge the checkout's consumer rejects, still standing (merge-refusal.ts). */
  refused?: Refusal;
}

export async function localSyncStatus(repo: RepoPaths, stateDir: string): Promise<LocalSyncStatus> {
  const log = await fs.readFile(pushLogFile(stateDir), 'utf8').catch(() => '');
  const state = await readPullState(repo.commonDir);
  const refs = await git(['for-each-ref', '--format=%(objectname) %(refname)', CONFLICT_PREFIX], { gitDir: repo.commonDir });
  const conflicts = refs.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [oid, ref] = line.split(' ');
      const rec = state.conflicts.find((c) => c.ref === ref);
      return { ref, oid, paths: rec?.paths ?? [], at: rec?.at };
    });
  return {
    refused: await readRefusal(repo),
    lastBackgroundPush: log.trim().split('\n').filter(Boolean).pop(),
    lastPullRound: state.lastPullAt ? { at: state.lastPullAt, error: state.lastError?.message } : undefined,
    conflicts,
  };
}

/** Pure: the status rows. */
export function formatLocalRows(s: LocalSyncStatus): [string, string][] {
  const rows: [string, string][] = [
    ['auto push', s.lastBackgroundPush ?? 'none yet (each commit of main is pushed in the background)'],
    ['pull round', s.lastPullRound ? `${s.lastPullRound.at}${s.lastPullRound.error ? ` FAILED: ${s.lastPullRound.error}` : ''}` : 'never (run letta-memfs-hooks pull, e.g. from cron)'],
  ];
  if (s.refused) rows.push(['REFUSED', `${s.refused.at} ${refusalReason(s.refused)} (fix: ${refusalFix(s.refused, LOCAL_TRACKING_REF)})`]);
  for (const c of s.conflicts) {
    rows.push(['CONFLICT', `${c.ref} keeps this checkout's side${c.paths.length ? ` of ${c.paths.join(', ')}` : ''}; main has the host's version (git diff ${c.ref} main; delete the ref when done)`]);
  }
  return rows;
}
