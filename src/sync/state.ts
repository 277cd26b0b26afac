/** The pull state file and lock of one repo, shared by the server's pull and the local backend's two-way sync. */
import path from 'node:path';
import { readJson, stateDirOf } from '../core/settings.js';
import type { ConflictRecord } from './merge.js';

export interface PullState {
  version: 1;
  conflicts: ConflictRecord[];
  lastPullAt?: string;
  lastError?: { message: string; at: string };
  /** main as we last wrote or saw it; a later main that does not descend from it was overwritten by a server copy. */
  lastWritten?: string;
}

export const pullStateFile = (gitDir: string) => path.join(stateDirOf(gitDir), 'pull.json');
export const pullLockFile = (gitDir: string) => path.join(stateDirOf(gitDir), 'pull.lock');

export async function readPullState(gitDir: string): Promise<PullState> {
  return (await readJson<PullState>(pullStateFile(gitDir))) ?? { version: 1, conflicts: [] };
}
