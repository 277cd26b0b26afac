/** Pure: how a repo's main and the external main are brought together; both roles' pull rounds use it. */

/** Rounds of fetch-merge-push before a pull gives up (the remote kept moving under it). */
export const MAX_ROUNDS = 6;

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

/** git push's stderr when the remote moved since we looked (fetch and merge again), as opposed to a failure. */
export const PUSH_REJECTED = /\[rejected\]|non-fast-forward|fetch first|stale info|\[remote rejected\].*(cannot lock|failed to update)/i;
