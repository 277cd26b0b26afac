/**
 * Two-way sync of a Letta Code local-backend checkout with the external host (see local-backend.ts): `pull` runs one
 * round (fetch, bring main and origin/main together, push), the background push after each commit only pushes.
 *
 * The decisions are the sync core's, shared with the server role (src/sync/plan.ts, src/sync/merge.ts): a
 * fast-forward, a clean per-file merge, or on a true conflict the external version with this checkout's side kept
 * under refs/letta-memfs/conflicts/. Never --force. Because this repo has a work tree that Letta Code reads and
 * writes, main only moves through `git merge --ff-only <target>`, which updates index and files together, refuses to
 * overwrite a local change, and fails if main moved meanwhile (then the round starts again). And it never starts
 * while the work tree is dirty or a merge, rebase, cherry-pick or revert is in progress: Letta Code checks the same
 * states before it writes memory (getMemoryConflictSummary, letta-code src/agent/memory-git.ts @ v0.30.29).
 */
import { selfCommand } from '../core/self-command.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { getConfig, git, NETWORK_TIMEOUT_MS, type RepoPaths } from '../git/git.js';
import { NO_PROMPT_ENV, sshProblem } from '../git/ssh.js';
import { MAIN } from '../git/refs.js';
import { UserError } from '../core/errors.js';
import { waitLock } from '../core/lock.js';
import { type Settings, writeJsonAtomic } from '../core/settings.js';
import { type ConflictRecord, keepConflict, lastLine, mergeWithExternal } from '../sync/merge.js';
import { MAX_ROUNDS, planReconcile, PUSH_REJECTED } from '../sync/plan.js';
import { pullLockFile, pullStateFile, readPullState } from '../sync/state.js';
import { LOCAL_REMOTE, LOCAL_TRACKING_REF } from './local-backend.js';
import { auditBeforeMove } from './merge-audit.js';
import { clearRefusal, recordRefusal, type Refusal, REFUSED_REF, refusalFix, refusalReason } from './merge-refusal.js';
import { harnessHold, processRunning, readLeaseFiles, waitForHarness } from './harness-lease.js';

/** Files git keeps while an operation waits for the user (git's own sequencer and am state). */
const IN_PROGRESS = ['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'CHERRY_PICK_HEAD', 'REVERT_HEAD'];

export interface WorkTreeView {
  /** `git symbolic-ref -q HEAD`; undefined when detached. */
  head?: string;
  /** Which of IN_PROGRESS exist in the git dir. */
  inProgress: string[];
  /** `git status --porcelain` (untracked files count: a merge could need their paths). */
  porcelain: string;
}

/** Pure: why main must not be moved under this work tree now, or undefined when it may. */
export function workTreeBlocker(v: WorkTreeView): string | undefined {
  if (v.inProgress.length > 0) return `${v.inProgress[0]} exists: a merge, rebase or cherry-pick is in progress; finish or abort it`;
  if (v.head !== MAIN) return `HEAD is ${v.head ?? 'detached'}, not main`;
  if (v.porcelain.trim()) return `the work tree has uncommitted changes (${v.porcelain.trim().split('\n').length} path(s)); Letta Code commits them at the end of its turn`;
  return undefined;
}

export async function viewWorkTree(repo: RepoPaths, cwd: string): Promise<WorkTreeView> {
  const head = await git(['symbolic-ref', '-q', 'HEAD'], { cwd, allowFailure: true });
  const inProgress: string[] = [];
  for (const f of IN_PROGRESS) if (await fs.stat(path.join(repo.gitDir, f)).then(() => true, () => false)) inProgress.push(f);
  // --no-optional-locks: looking never rewrites the index (pull --dry-run writes nothing).
  const status = await git(['--no-optional-locks', 'status', '--porcelain'], { cwd });
  return { head: head.exitCode === 0 ? head.stdout : undefined, inProgress, porcelain: status.stdout };
}

async function oidOf(where: string | { cwd?: string; gitDir?: string }, ref: string): Promise<string | undefined> {
  const r = await git(['rev-parse', '-q', '--verify', `${ref}^{commit}`], { ...(typeof where === 'string' ? { cwd: where } : where), allowFailure: true });
  return r.exitCode === 0 ? r.stdout : undefined;
}

export interface PushResult {
  oid?: string;
  result: 'ok' | 'rejected' | 'refused' | 'nothing';
  detail?: string;
}

/** Our pre-push's refusal lines in git's output (`letta-memfs-hooks: push refused: <file>: <rule> (fix: ...)`). */
export function refusalsIn(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => /letta-memfs-hooks: push refused: (.*)$/.exec(l)?.[1])
    .filter((l): l is string => !!l && !/^\d+ problems/.test(l));
}

/**
 * Pushes main to origin, never forced. Our pre-push runs as for any push (LETTA_MEMFS_INTERNAL cleared), so the
 * content checks apply and `status` shows the push.
 */
export async function pushLocalMain(where: { cwd?: string; gitDir?: string }): Promise<PushResult> {
  const oid = await oidOf(where, MAIN);
  if (!oid) return { result: 'nothing' };
  const r = await git(['push', '--quiet', LOCAL_REMOTE, `${MAIN}:${MAIN}`], {
    ...where,
    env: { LETTA_MEMFS_INTERNAL: undefined, ...NO_PROMPT_ENV },
    allowFailure: true,
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (r.exitCode === 0) return { oid, result: 'ok' };
  // Our own pre-push said no: the cause is in the commit, not the host or the token.
  const refused = refusalsIn(r.stderr);
  if (refused.length) return { oid, result: 'refused', detail: `this checkout's pre-push refused it: ${refused.join(' | ')}` };
  if (PUSH_REJECTED.test(r.stderr)) return { oid, result: 'rejected', detail: 'the host has commits this checkout lacks; the next letta-memfs-hooks pull merges them' };
  const ssh = sshProblem(r.stderr, (await getConfig(`remote.${LOCAL_REMOTE}.url`, where)) ?? '');
  throw new UserError(`push to ${LOCAL_REMOTE} failed: ${ssh?.reason ?? lastLine(r.stderr)}`, ssh?.fix ?? `check the remote, the token (re-run init after rotating it) and ${selfCommand()} status`);
}

async function fetchOrigin(cwd: string): Promise<boolean> {
  const r = await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', LOCAL_REMOTE, `+${MAIN}:${LOCAL_TRACKING_REF}`], {
    cwd,
    env: NO_PROMPT_ENV,
    allowFailure: true,
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (r.exitCode === 0) return true;
  if (/couldn't find remote ref/i.test(r.stderr)) {
    // A new, empty repo on the host: this checkout's history seeds it.
    await git(['update-ref', '-d', LOCAL_TRACKING_REF], { cwd, allowFailure: true });
    return false;
  }
  const ssh = sshProblem(r.stderr, (await getConfig(`remote.${LOCAL_REMOTE}.url`, { cwd })) ?? '');
  throw new UserError(`fetch from ${LOCAL_REMOTE} failed: ${ssh?.reason ?? lastLine(r.stderr)}`, ssh?.fix ?? `check the remote, the network and the token (${selfCommand()} status)`);
}

/** A refused push ends the round with the refusal as the error: pushing again cannot help until the files change. */
function pushedOrRefused(r: PushResult): PushResult['result'] {
  if (r.result === 'refused') throw new UserError(`push of main ${r.oid?.slice(0, 12)} refused: ${r.detail}`, 'fix the files named above, commit, then run pull again');
  return r.result;
}

export interface LocalPullOutcome {
  agentId: string;
  /** Steps taken, in order, e.g. ['merge', 'push']. */
  steps: string[];
  head?: string;
  remoteHead?: string;
  conflict?: ConflictRecord;
  /** Why main was not moved although the host has commits this checkout lacks, and what lets the next pull do it. */
  deferred?: Deferred;
  /** Letta Code holds the checkout (its lease or a repair claim): the round is left to the next pull, not failed. */
  waiting?: string;
  /** The merge (or fast-forward) the checkout's consumer rejects: main was not moved (merge-refusal.ts). */
  refused?: Refusal;
  /** A refusal that stands, and its fix. */
  refusedLine?: { reason: string; fix: string };
}

export interface Deferred {
  cause: string;
  fix: string;
}

// git refusing the host's tree itself (read-tree/unpack-trees verify_path, entry.c @ v2.39): no later round can
// check it out either, so the fix is on the host.
const UNCHECKOUTABLE = /invalid path|unable to create|is beyond a symbolic link|cannot create/i;

/** Pure: why `git merge --ff-only <target>` failed with main unmoved, and the fix. */
export function ffRefusal(stderr: string, target: string): Deferred {
  const line = lastLine(stderr);
  if (UNCHECKOUTABLE.test(stderr)) {
    return {
      cause: `the host's main ${target.slice(0, 12)} cannot be checked out here (git: ${line})`,
      fix: `on the host, remove or rename that path in a new commit of main (git refuses .git, .. and names this file system cannot hold), then run ${selfCommand()} pull again`,
    };
  }
  return { cause: `git merge --ff-only refused: ${line}`, fix: `deal with what git says, then run ${selfCommand()} pull again` };
}

/** One two-way round for a local-backend checkout, under the same per-repo lock file as the server's pull. */
export async function pullLocal(repo: RepoPaths, settings: Settings): Promise<LocalPullOutcome> {
  const cwd = repo.workTree;
  if (!cwd) throw new UserError(`${repo.gitDir} has no work tree`, 'run pull in the agent memory checkout');
  const lock = await waitLock(pullLockFile(repo.commonDir), 120_000);
  if (!lock) throw new UserError('another pull has held the lock for 2 minutes', `remove ${pullLockFile(repo.commonDir)} if no letta-memfs-hooks process runs`);
  const state = await readPullState(repo.commonDir);
  const out: LocalPullOutcome = { agentId: settings.agentId, steps: [] };
  try {
    await round(repo, cwd, out, state);
    // A round that could not merge is a failed round, for `status` too, until one gets through.
    state.lastError = out.deferred ? { message: `not merged: ${out.deferred.cause}`, at: new Date().toISOString() } : undefined;
    await settleRefusal(repo, cwd, out);
    return out;
  } catch (err) {
    state.lastError = { message: err instanceof Error ? err.message : String(err), at: new Date().toISOString() };
    throw err;
  } finally {
    state.lastPullAt = new Date().toISOString();
    await writeJsonAtomic(pullStateFile(repo.commonDir), state).catch(() => undefined);
    await lock.release();
  }
}

async function round(repo: RepoPaths, cwd: string, out: LocalPullOutcome, state: Awaited<ReturnType<typeof readPullState>>): Promise<void> {
  // Letta Code's memory worker or repair agent writes this checkout under its lease: wait a little, else next round.
  const held = await waitForHarness(repo.gitDir);
  if (held) {
    out.waiting = `${held}; the next pull does this round`;
    return;
  }
  for (let i = 0; i < MAX_ROUNDS; i++) {
    const fetched = await fetchOrigin(cwd);
    const local = await oidOf(cwd, MAIN);
    const remote = fetched ? await oidOf(cwd, LOCAL_TRACKING_REF) : undefined;
    let base: string | undefined;
    if (local && remote && local !== remote) {
      const mb = await git(['merge-base', local, remote], { cwd, allowFailure: true });
      base = mb.exitCode === 0 ? mb.stdout : undefined;
    }
    out.head = local;
    out.remoteHead = remote;
    const step = planReconcile({ local, remote, base });
    if (step === 'nothing' || step === 'equal') return;
    if (step === 'seed' || step === 'push') {
      if (pushedOrRefused(await pushLocalMain({ cwd })) === 'rejected') continue;
      out.steps.push(step);
      out.remoteHead = local;
      return;
    }
    // Letta Code may have taken its lease while we fetched: the same as at the start, not a failure.
    const lease = await harnessHold(await readLeaseFiles(repo.gitDir), processRunning);
    if (lease) {
      out.waiting = `${lease}; the next pull does this round`;
      return;
    }
    const blocker = workTreeBlocker(await viewWorkTree(repo, cwd));
    if (blocker) {
      out.deferred = { cause: blocker, fix: `deal with that (or let Letta Code finish its turn), then run ${selfCommand()} pull again` };
      return;
    }
    const merged = step === 'merge' ? await mergeWithExternal(repo.commonDir, local!, remote!, base, "this checkout's", "the host's main") : undefined;
    const target = merged?.commit ?? remote!;
    // Letta Code blocks every later commit (and its own push) under a HEAD its checker rejects: such a commit never
    // becomes main. Both sides stay: main, and the candidate (whose parents are both) under REFUSED_REF.
    const audit = await auditBeforeMove(repo, target);
    if (audit.verdict.kind !== 'accepted') {
      out.refused = {
        at: new Date().toISOString(),
        by: audit.by,
        candidate: target,
        ref: REFUSED_REF,
        sides: [local!, remote!],
        problems: audit.verdict.kind === 'rejected' ? audit.verdict.problems : [audit.verdict.reason],
        configChanged: await configDiffers(cwd, local!, target),
        fix: audit.verdict.kind === 'failed' ? audit.verdict.fix : undefined,
      };
      return;
    }
    const conflict = merged && merged.paths.length > 0 ? await keepConflict(repo.commonDir, local!, remote!, merged) : undefined;
    const ff = await git(['merge', '--ff-only', '--quiet', target], { cwd, allowFailure: true });
    if (ff.exitCode !== 0) {
      if (conflict) await git(['update-ref', '-d', conflict.ref, local!], { cwd, allowFailure: true });
      // Letta Code committed (main moved) or wrote a file since we looked: start over, or leave it to the next pull.
      if ((await oidOf(cwd, MAIN)) !== local) continue;
      out.deferred = ffRefusal(ff.stderr, target);
      return;
    }
    out.steps.push(conflict ? 'conflict-merge' : step);
    out.head = target;
    if (conflict) {
      state.conflicts.push(conflict);
      out.conflict = conflict;
    }
    if (!merged) return;
    if (pushedOrRefused(await pushLocalMain({ cwd })) === 'rejected') continue;
    out.steps.push('push');
    out.remoteHead = target;
    return;
  }
  throw new UserError(`main or the external remote kept moving for ${MAX_ROUNDS} rounds`, 'run letta-memfs-hooks pull again; nothing was lost');
}

/** Whether `.memfs.config.json` (Letta Code's protected limits) differs between two commits. */
async function configDiffers(cwd: string, a: string, b: string): Promise<boolean> {
  const r = await git(['diff', '--quiet', a, b, '--', '.memfs.config.json'], { cwd, allowFailure: true });
  return r.exitCode !== 0;
}

/**
 * After a round: a refusal is recorded (with its ref) and worded for the caller; a round that moved main or had
 * nothing to merge clears an earlier one; a deferred round leaves it as it was.
 */
async function settleRefusal(repo: RepoPaths, cwd: string, out: LocalPullOutcome): Promise<void> {
  if (out.refused) {
    await recordRefusal(repo, cwd, out.refused);
    out.refusedLine = { reason: refusalReason(out.refused), fix: refusalFix(out.refused, LOCAL_TRACKING_REF) };
  } else if (!out.deferred) {
    await clearRefusal(repo, cwd);
  }
}
