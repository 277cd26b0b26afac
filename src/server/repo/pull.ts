import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { UserError } from '../../core/errors.js';
import { git, GitError } from '../../core/git.js';
import { readJson, readSettings, stateDirOf, writeJsonAtomic } from '../../core/settings.js';
import type { AgentRepo } from './discover.js';
import type { LettaClientOptions } from '../letta/letta-api.js';
import { waitLock } from '../../core/lock.js';
import { MAIN, readRef } from './refs.js';
import { externalGitEnv, REMOTE_NAME, TRACKING_REF } from './remote-auth.js';
import { probeRemoteMain } from './remote-head.js';
import { type SyncOutcome, syncAgent } from '../letta/sync.js';

export const CONFLICT_PREFIX = 'refs/letta-memfs/conflicts/';
const ZERO = '0'.repeat(40);
const MAX_ROUNDS = 6;
/** A fetch or push that hangs (a dead host) must not stall `watch` for every other agent. */
const NETWORK_TIMEOUT_MS = 120_000;

// Our merge commits must not look like the Letta server's (its temp-copy commits set user.name/user.email in
// repo.git/config, git_operations.py @ 0.16.7 `_commit_with_lock`, and that config is copied back).
const IDENTITY = {
  GIT_AUTHOR_NAME: 'letta-memfs-hooks',
  GIT_AUTHOR_EMAIL: 'letta-memfs-hooks@localhost',
  GIT_COMMITTER_NAME: 'letta-memfs-hooks',
  GIT_COMMITTER_EMAIL: 'letta-memfs-hooks@localhost',
};

/** What the decision needs: main, the fetched external main, and their merge base (undefined: none or unknown). */
export interface RefsView {
  local?: string;
  remote?: string;
  base?: string;
}

export type ReconcileStep = 'equal' | 'fast-forward' | 'push' | 'seed' | 'merge' | 'create-main' | 'nothing';

/**
 * Pure: how to bring main and the external main together. `fast-forward` moves main (CAS); `push`/`seed` send the
 * server's commits out; `merge` joins diverged histories (including unrelated ones, base undefined).
 */
export function planReconcile(v: RefsView): ReconcileStep {
  if (!v.local && !v.remote) return 'nothing';
  if (!v.local) return 'create-main';
  if (!v.remote) return 'seed';
  if (v.local === v.remote) return 'equal';
  if (v.base === v.local) return 'fast-forward';
  if (v.base === v.remote) return 'push';
  return 'merge';
}

/** One conflict: the server's side is kept under `ref`; main took the external remote's version of `paths`. */
export interface ConflictRecord {
  ref: string;
  server: string;
  remote: string;
  merge: string;
  paths: string[];
  at: string;
}

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

export interface PullOutcome {
  agentId: string;
  /** The steps taken, in order (e.g. ['merge', 'push']). */
  steps: string[];
  head?: string;
  remoteHead?: string;
  conflict?: ConflictRecord;
  error?: string;
  sync?: SyncOutcome;
}

/** Test seams: run between the steps, to interleave server copies and client pushes deterministically. */
export interface PullInjections {
  afterFetch?: () => Promise<void>;
  beforeUpdateRef?: () => Promise<void>;
  beforePush?: () => Promise<void>;
}

export interface PullContext {
  config: Config;
  letta: LettaClientOptions;
  env?: NodeJS.ProcessEnv;
  /** Skip the Letta sync (tests of the git side; `pull --no-sync`). */
  noSync?: boolean;
  inject?: PullInjections;
  /** Fetch even when the external main looks unchanged (see `unchanged`). */
  alwaysFetch?: boolean;
}

type Fetched = 'ok' | 'empty';

async function fetchExternal(repo: AgentRepo, env: Record<string, string>): Promise<Fetched> {
  const r = await git(
    ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-auto-maintenance', REMOTE_NAME, `+refs/heads/main:${TRACKING_REF}`],
    { gitDir: repo.gitDir, env, allowFailure: true, timeoutMs: NETWORK_TIMEOUT_MS },
  );
  if (r.exitCode === 0) return 'ok';
  if (/couldn't find remote ref/i.test(r.stderr)) {
    // The external repo has no main yet (a new, empty repo): the server's history seeds it.
    await git(['update-ref', '-d', TRACKING_REF], { gitDir: repo.gitDir, allowFailure: true });
    return 'empty';
  }
  if (/No such remote|does not appear to be a git repository/i.test(r.stderr) && !(await hasRemote(repo))) {
    throw new UserError(`${repo.agentId}: repo.git has no ${REMOTE_NAME} remote`, 'run letta-memfs-hooks init --server first');
  }
  throw new UserError(`${repo.agentId}: fetch from the external remote failed: ${lastLine(r.stderr)}`, 'check the remote URL, the network and the token (letta-memfs-hooks doctor)');
}

async function hasRemote(repo: AgentRepo): Promise<boolean> {
  const r = await git(['config', '--get', `remote.${REMOTE_NAME}.url`], { gitDir: repo.gitDir, allowFailure: true });
  return r.exitCode === 0;
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? '';
}

type Pushed = 'ok' | 'rejected';

async function pushMain(repo: AgentRepo, env: Record<string, string>): Promise<Pushed> {
  // Never --force: a rejection means the remote moved, and the caller fetches and merges again.
  const r = await git(['push', '--quiet', '--no-verify', REMOTE_NAME, `${MAIN}:refs/heads/main`], { gitDir: repo.gitDir, env, allowFailure: true, timeoutMs: NETWORK_TIMEOUT_MS });
  if (r.exitCode === 0) return 'ok';
  if (/\[rejected\]|non-fast-forward|fetch first|stale info|\[remote rejected\].*(cannot lock|failed to update)/i.test(r.stderr)) return 'rejected';
  throw new UserError(`${repo.agentId}: push to the external remote failed: ${lastLine(r.stderr)}`, 'check write access for the token (letta-memfs-hooks doctor)');
}

/** CAS: moves main from `old` to `next` only if it still points at `old` (a server copy may have moved it). */
async function casMain(repo: AgentRepo, next: string, old: string | undefined, why: string): Promise<boolean> {
  const r = await git(['update-ref', '-m', `letta-memfs-hooks: ${why}`, MAIN, next, old ?? ZERO], { gitDir: repo.gitDir, allowFailure: true });
  return r.exitCode === 0;
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
 * `pull` for one agent: fetch the external main into a remote-tracking ref, then bring main and it together with
 * compare-and-swap ref updates only, push what the server added, and sync Letta. No work tree is needed: the Letta
 * server resets its temp copy to HEAD before each commit (`git reset --hard`, git_operations.py @ 0.16.7
 * `_commit_with_lock`), so repo.git's own index may lag behind main without effect; we leave it alone.
 */
export async function pullAgent(repo: AgentRepo, ctx: PullContext): Promise<PullOutcome> {
  const out: PullOutcome = { agentId: repo.agentId, steps: [] };
  const lock = await waitLock(pullLockFile(repo.gitDir), 120_000);
  if (!lock) throw new UserError(`${repo.agentId}: another pull has held the lock for 2 minutes`, `remove ${pullLockFile(repo.gitDir)} if no letta-memfs-hooks process runs`);
  const state = await readPullState(repo.gitDir);
  try {
    if (!ctx.noSync) await syncAgent(repo, ctx.letta, { markOnly: true });
    await reconcile(repo, ctx, out, state);
    state.lastError = undefined;
  } catch (err) {
    out.error = err instanceof Error ? err.message : String(err);
    state.lastError = { message: out.error, at: new Date().toISOString() };
  } finally {
    state.lastPullAt = new Date().toISOString();
    if (out.head) state.lastWritten = out.head;
    await writeJsonAtomic(pullStateFile(repo.gitDir), state).catch(() => undefined);
    await lock.release();
  }
  if (!ctx.noSync) out.sync = await syncAgent(repo, ctx.letta, { waitMs: 30_000 });
  return out;
}

/** Idle fast path: the external main (asked without git) is main already: nothing to fetch, merge or push. */
async function unchanged(repo: AgentRepo, ctx: PullContext, out: PullOutcome): Promise<boolean> {
  const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
  if (!settings?.remote) return false;
  const probed = await probeRemoteMain(settings.remote, ctx.config, ctx.env);
  if (probed === undefined) return false;
  const [local, tracking] = await Promise.all([readRef(repo.gitDir, MAIN), readRef(repo.gitDir, TRACKING_REF)]);
  if (probed === null || !local || probed !== local) return false;
  // Same commit on both sides; the tracking ref is only missing or stale (first pull after init).
  if (tracking !== local) await git(['update-ref', TRACKING_REF, local], { gitDir: repo.gitDir });
  out.head = local;
  out.remoteHead = tracking;
  return true;
}

async function reconcile(repo: AgentRepo, ctx: PullContext, out: PullOutcome, state: PullState): Promise<void> {
  const env = externalGitEnv(ctx.config, ctx.env);
  if (!ctx.alwaysFetch && !ctx.inject && (await unchanged(repo, ctx, out))) return;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const fetched = await fetchExternal(repo, env);
    await ctx.inject?.afterFetch?.();
    const local = await readRef(repo.gitDir, MAIN);
    const remote = fetched === 'ok' ? await readRef(repo.gitDir, TRACKING_REF) : undefined;
    let base: string | undefined;
    if (local && remote && local !== remote) {
      const mb = await git(['merge-base', local, remote], { gitDir: repo.gitDir, allowFailure: true });
      base = mb.exitCode === 0 ? mb.stdout : undefined;
    }
    out.head = local;
    out.remoteHead = remote;
    const step = planReconcile({ local, remote, base });
    switch (step) {
      case 'nothing':
      case 'equal':
        return;
      case 'create-main':
      case 'fast-forward': {
        await ctx.inject?.beforeUpdateRef?.();
        if (!(await casMain(repo, remote!, local, 'fast-forward to external main'))) continue;
        out.steps.push(step);
        out.head = remote;
        return;
      }
      case 'seed':
      case 'push': {
        await ctx.inject?.beforePush?.();
        if ((await pushMain(repo, env)) === 'rejected') continue;
        out.steps.push(step);
        out.remoteHead = local;
        return;
      }
      case 'merge': {
        const merged = await mergeTrees(repo, local!, remote!, base === undefined);
        let tree = merged.tree;
        let message = 'Merge Letta server edits with the external remote (letta-memfs-hooks)';
        const paths = [...merged.conflicts.keys()].sort();
        if (paths.length > 0) {
          tree = await externalWinsTree(repo, merged);
          message = `Merge Letta server edits; conflicts in ${paths.join(', ')} take the external version (letta-memfs-hooks)`;
        }
        // First parent: the external main, so first-parent history follows the canonical copy.
        const commit = (
          await git(['commit-tree', tree, '-p', remote!, '-p', local!, '-m', message], { gitDir: repo.gitDir, env: IDENTITY })
        ).stdout;
        let conflict: ConflictRecord | undefined;
        if (paths.length > 0) {
          // The server's side, exactly as it was, under a ref of its own before main moves.
          const ref = `${CONFLICT_PREFIX}${stamp()}-${local!.slice(0, 12)}`;
          const made = await git(['update-ref', ref, local!, ZERO], { gitDir: repo.gitDir, allowFailure: true });
          // The same ref from an earlier round of this pull (same millisecond, same commit) is already the backup.
          if (made.exitCode !== 0 && (await readRef(repo.gitDir, ref)) !== local) throw new GitError(['update-ref', ref], made);
          conflict = { ref, server: local!, remote: remote!, merge: commit, paths, at: new Date().toISOString() };
        }
        await ctx.inject?.beforeUpdateRef?.();
        if (!(await casMain(repo, commit, local, 'merge server edits'))) continue;
        out.steps.push(paths.length > 0 ? 'conflict-merge' : 'merge');
        out.head = commit;
        if (conflict) {
          state.conflicts.push(conflict);
          out.conflict = conflict;
        }
        await ctx.inject?.beforePush?.();
        if ((await pushMain(repo, env)) === 'rejected') continue;
        out.steps.push('push');
        out.remoteHead = commit;
        return;
      }
    }
  }
  throw new UserError(`${repo.agentId}: main or the external remote kept moving for ${MAX_ROUNDS} rounds`, 'run letta-memfs-hooks pull again; nothing was lost');
}
