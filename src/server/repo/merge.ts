/**
 * Joining the server's main with another history without a work tree (git merge-tree, git 2.38+): the external
 * main in `pull`, or a push that a Letta server copy-back overwrote (lost-pushes.ts). Conflicts take the other
 * side's version; the server's side is kept under a ref first, so nothing is lost either way.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { git, GitError } from '../../core/git.js';
import type { AgentRepo } from './discover.js';
import { readRef } from './refs.js';

export const CONFLICT_PREFIX = 'refs/letta-memfs/conflicts/';
const ZERO = '0'.repeat(40);

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


/** One conflict: the server's side is kept under `ref`; main took the external remote's version of `paths`. */
export interface ConflictRecord {
  ref: string;
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

async function mergeTrees(repo: AgentRepo, local: string, remote: string, unrelated: boolean): Promise<MergeResult> {
  const args = ['merge-tree', '--write-tree', '--no-messages', '-z'];
  if (unrelated) args.push('--allow-unrelated-histories');
  const r = await git([...args, local, remote], { gitDir: repo.gitDir, allowFailure: true });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new UserError(`${repo.agentId}: git merge-tree failed: ${lastLine(r.stderr)}`, 'git 2.38 or newer is needed');
  return parseMergeTree(r.stdout);
}

/** The merged tree with each conflicted path replaced by the external side's version (or removed, if it deleted it). */
async function externalWinsTree(repo: AgentRepo, merged: MergeResult): Promise<string> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lmh-index-'));
  const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
  try {
    await git(['read-tree', merged.tree], { gitDir: repo.gitDir, env });
    const lines = [...merged.conflicts].map(([p, e]) => (e ? `${e.mode} ${e.oid}\t${p}` : `0 ${ZERO}\t${p}`));
    await git(['update-index', '-z', '--index-info'], { gitDir: repo.gitDir, env, input: lines.join('\0') + '\0' });
    return (await git(['write-tree'], { gitDir: repo.gitDir, env })).stdout;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
}

/**
 * A merge commit of the server's `local` main and `other` (the external main, or a push a server copy overwrote),
 * not yet on any branch: first parent `other`, so first-parent history follows the canonical copy; a path both
 * changed takes `other`'s version, and the server's side is kept under a conflict ref first.
 */
export async function mergeSides(
  repo: AgentRepo,
  local: string,
  other: string,
  base: string | undefined,
  otherName: string,
): Promise<{ commit: string; conflict?: ConflictRecord; paths: string[] }> {
  const merged = await mergeTrees(repo, local, other, base === undefined);
  let tree = merged.tree;
  let message = `Merge Letta server edits with ${otherName} (letta-memfs-hooks)`;
  const paths = [...merged.conflicts.keys()].sort();
  if (paths.length > 0) {
    tree = await externalWinsTree(repo, merged);
    message = `Merge Letta server edits; conflicts in ${paths.join(', ')} take the version of ${otherName} (letta-memfs-hooks)`;
  }
  const commit = (await git(['commit-tree', tree, '-p', other, '-p', local, '-m', message], { gitDir: repo.gitDir, env: IDENTITY })).stdout;
  if (paths.length === 0) return { commit, paths };
  // The server's side, exactly as it was, under a ref of its own before main moves.
  const ref = `${CONFLICT_PREFIX}${stamp()}-${local.slice(0, 12)}`;
  const made = await git(['update-ref', ref, local, ZERO], { gitDir: repo.gitDir, allowFailure: true });
  // The same ref from an earlier round (same millisecond, same commit) is already the backup.
  if (made.exitCode !== 0 && (await readRef(repo.gitDir, ref)) !== local) throw new GitError(['update-ref', ref], made);
  return { commit, paths, conflict: { ref, server: local, remote: other, merge: commit, paths, at: new Date().toISOString() } };
}

