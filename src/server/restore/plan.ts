/** Pure: what `restore` does for one agent, from what its repo.git and the host's repo look like. */
import type { ReconcileStep } from '../../sync/plan.js';

/** repo.git as found: absent, there but failing `git fsck` (or without HEAD), or sound with its main (if any). */
export type LocalState = { kind: 'missing' } | { kind: 'broken'; why: string } | { kind: 'present'; main?: string };

/** The host's repo as `ls-remote` saw it: its main, a repo with no main yet, or an error (no repo, auth, network). */
export type HostState = { kind: 'main'; oid: string } | { kind: 'empty' } | { kind: 'unreadable'; error: string };

export type RestoreStep =
  /** Clone the host's main into a new repo.git. */
  | { action: 'clone'; oid: string }
  /** Move the broken repo.git aside to `aside` (same directory), then clone. */
  | { action: 'replace'; oid: string; aside: string; why: string }
  /** A sound repo.git: set it up and bring it together with the host as `pull` does (never overwriting it). */
  | { action: 'pull'; step?: ReconcileStep }
  | { action: 'fail'; error: string; fix: string };

/** `repo.git.broken-20261202T161500Z`: dated, next to repo.git, where Letta never looks (it reads repo.git/ only). */
export function asideName(now: Date): string {
  return `repo.git.broken-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/**
 * `step`: how pull would bring main and the host's main together (planReconcile), when the caller could tell
 * (both commits here); it only makes the description precise.
 */
export function planRestore(local: LocalState, host: HostState, now: Date, step?: ReconcileStep): RestoreStep {
  if (host.kind === 'unreadable') {
    return { action: 'fail', error: `cannot read the agent's repo on the host: ${host.error}`, fix: 'check the remote URL template, the token and that the repo exists on the host' };
  }
  if (local.kind === 'present') return { action: 'pull', step };
  if (host.kind === 'empty') {
    const lost = local.kind === 'broken' ? ` and repo.git fails git fsck (${local.why})` : '';
    return { action: 'fail', error: `the host's repo has no main: nothing to restore from${lost}`, fix: 'push the agent\'s memory to the host first, or restore the memfs volume from a backup' };
  }
  if (local.kind === 'missing') return { action: 'clone', oid: host.oid };
  return { action: 'replace', oid: host.oid, aside: asideName(now), why: local.why };
}

const PULL_WORDS: Partial<Record<ReconcileStep, string>> = {
  equal: 'up to date with the host: nothing to do',
  'create-main': "create main from the host's main",
  'fast-forward': "fast-forward main to the host's main",
  push: "push the server's newer commits to the host (they are kept)",
  seed: "seed the host's empty repo with main",
  merge: "merge the server's commits with the host's main, then push the merge (nothing is overwritten)",
};

/** Pure: one line for `--dry-run` (and the text output's plan). */
export function describeStep(agentId: string, s: RestoreStep, mode: 'stock' | 'patched'): string {
  const sync = mode === 'stock' ? "main moved by a push through Letta's /v1/git/ (Letta syncs its blocks)" : 'then sync Letta (sync-from-git)';
  switch (s.action) {
    case 'clone':
      return `${agentId}: would clone the host's main ${s.oid.slice(0, 12)} into a new repo.git, set it up as init --server does, ${sync}`;
    case 'replace':
      return `${agentId}: repo.git fails git fsck (${s.why}): would move it aside to ${s.aside}, clone the host's main ${s.oid.slice(0, 12)}, set it up, ${sync}`;
    case 'pull':
      return `${agentId}: repo.git is sound: would set it up as init --server does and ${s.step ? (PULL_WORDS[s.step] ?? s.step) : "fetch the host's main, then fast-forward or merge as pull does"}`;
    case 'fail':
      return `${agentId}: cannot restore: ${s.error} (fix: ${s.fix})`;
  }
}
