/**
 * Joining the server's main with another history without a work tree (git merge-tree, git 2.38+): the external
 * main in `pull`, or a push that a Letta server copy-back overwrote (lost-pushes.ts). Conflicts take the other
 * side's version; the server's side is kept under a ref first, so nothing is lost either way.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../core/errors.js';
import { git, GitError } from '../git/git.js';
import { readRef, ZERO } from '../git/refs.js';

export const CONFLICT_PREFIX = 'refs/letta-memfs/conflicts/';

export function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? '';
}

// Our merge commits must not look like the Letta server's (its temp-copy commits set user.name/user.email in
// repo.git/config, git_operations.py @ 0.16.7 `_commit_with_lock`, and that config is copied back).
const IDENTITY = {
  GIT_AUTHOR_NAME: 'letta-memfs-hooks',
  GIT_AUTHOR_EMAIL: 'letta-memfs-hooks@localhost',
  GIT_COMMITTER_NAME: 'letta-memfs-hooks',
  GIT_COMMITTER_EMAIL: 'letta-memfs-hooks@localhost',
};

/** One conflict: the local side is kept under `ref`; main took the other side's version of `paths`. */
export interface ConflictRecord {
  ref: string;
  /** The side that lost: the server's main (server role), or a local-backend checkout's main (client). */
  server: string;
  remote: string;
  merge: string;
  paths: string[];
  at: string;
}

interface MergeResult {
  tree: string;
  /** Conflicted paths with the external side's entry (undefined: the external side deleted it). */
  conflicts: Map<string, { mode: string; oid: string } | undefined>;
}

/** Pure: parses `git merge-tree --write-tree --no-messages -z <server> <external>` output (git 2.38+). */
export function parseMergeTree(out: string): MergeResult {
  const parts = out.split('\0').filter(Boolean);
  const conflicts = new Map<string, { mode: string; oid: string } | undefined>();
  for (const entry of parts.slice(1)) {
    const m = /^(\d+) ([0-9a-f]{40}) (\d)\t(.*)$/s.exec(entry);
    if (!m) continue;
    const [, mode, oid, stage, p] = m;
    if (!conflicts.has(p)) conflicts.set(p, undefined);
    // Stage 3 is the second commit given, the external side.
    if (stage === '3') conflicts.set(p, { mode, oid });
  }
  return { tree: parts[0], conflicts };
}

async function mergeTrees(gitDir: string, local: string, remote: string, unrelated: boolean): Promise<MergeResult> {
  const args = ['merge-tree', '--write-tree', '--no-messages', '-z'];
  if (unrelated) args.push('--allow-unrelated-histories');
  const r = await git([...args, local, remote], { gitDir, allowFailure: true });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new UserError(`git merge-tree failed: ${lastLine(r.stderr)}`, 'git 2.38 or newer is needed');
  return parseMergeTree(r.stdout);
}

/** The merged tree with each conflicted path replaced by the other side's version (or removed, if it deleted it). */
async function otherWinsTree(gitDir: string, merged: MergeResult): Promise<string> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lmh-index-'));
  const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
  try {
    await git(['read-tree', merged.tree], { gitDir, env });
    const lines = [...merged.conflicts].map(([p, e]) => (e ? `${e.mode} ${e.oid}\t${p}` : `0 ${ZERO}\t${p}`));
    await git(['update-index', '-z', '--index-info'], { gitDir, env, input: lines.join('\0') + '\0' });
    return (await git(['write-tree'], { gitDir, env })).stdout;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
}

/** A merge of `local` with `other`, and the paths whose conflict `other` won. */
export interface MergedCommit {
  commit: string;
  paths: string[];
}

/**
 * Joins `local` (whose edits: `side`, e.g. "Letta server") and `other` (the external main, or a push a server copy
 * overwrote: `otherName`) in a new commit, objects only (merge-tree, no index or work tree): a clean per-file merge,
 * or on a true conflict `other`'s version of each conflicted path. First parent `other`, so first-parent history
 * follows the canonical copy. Shared by the server's repo.git (pull, lost pushes) and a local-backend checkout.
 */
export async function mergeWithExternal(
  gitDir: string,
  local: string,
  other: string,
  base: string | undefined,
  side: string,
  otherName = 'the external remote',
): Promise<MergedCommit> {
  const merged = await mergeTrees(gitDir, local, other, base === undefined);
  const paths = [...merged.conflicts.keys()].sort();
  const tree = paths.length > 0 ? await otherWinsTree(gitDir, merged) : merged.tree;
  const message =
    paths.length > 0
      ? `Merge ${side} edits; conflicts in ${paths.join(', ')} take the version of ${otherName} (letta-memfs-hooks)`
      : `Merge ${side} edits with ${otherName} (letta-memfs-hooks)`;
  const commit = (await git(['commit-tree', tree, '-p', other, '-p', local, '-m', message], { gitDir, env: IDENTITY })).stdout;
  return { commit, paths };
}

/** Keeps the losing side (`local`, exactly as it was) under a conflict ref of its own, before main moves. */
export async function keepConflict(gitDir: string, local: string, other: string, merged: MergedCommit): Promise<ConflictRecord> {
  const ref = `${CONFLICT_PREFIX}${stamp()}-${local.slice(0, 12)}`;
  const made = await git(['update-ref', ref, local, ZERO], { gitDir, allowFailure: true });
  // The same ref from an earlier round (same millisecond, same commit) is already the backup.
  if (made.exitCode !== 0 && (await readRef(gitDir, ref)) !== local) throw new GitError(['update-ref', ref], made);
  return { ref, server: local, remote: other, merge: merged.commit, paths: merged.paths, at: new Date().toISOString() };
}
