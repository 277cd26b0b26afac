/**
 * `pull --dry-run` in a local-backend checkout: what one round would do, with nothing written (no fetch, no merge
 * object, no ref, no state file): `git ls-remote` for the host's main, then the planner when both commits are here.
 */
import { git, NETWORK_TIMEOUT_MS, type RepoPaths } from '../git/git.js';
import { MAIN, readRef } from '../git/refs.js';
import { NO_PROMPT_ENV } from '../git/ssh.js';
import { lastLine } from '../sync/merge.js';
import { planReconcile, type ReconcileStep } from '../sync/plan.js';
import { LOCAL_REMOTE } from './local-backend.js';
import { workTreeBlocker, viewWorkTree } from './local-sync.js';

const WORDS: Record<ReconcileStep, string> = {
  nothing: 'nothing: neither this checkout nor the host has a main yet',
  equal: 'nothing: up to date with the host',
  'create-main': "fast-forward main to the host's main (after Letta Code's checker accepts it)",
  'fast-forward': "fast-forward main to the host's main (after Letta Code's checker accepts it)",
  push: "push this checkout's commits to the host",
  seed: 'seed the empty host repo with main',
  merge: "merge the host's main into main (if Letta Code's checker accepts the merge), then push it",
};

export async function describeLocalPull(repo: RepoPaths, agentId: string): Promise<string> {
  const cwd = repo.workTree!;
  const ls = await git(['ls-remote', '--quiet', LOCAL_REMOTE, MAIN], { cwd, env: NO_PROMPT_ENV, allowFailure: true, timeoutMs: NETWORK_TIMEOUT_MS });
  if (ls.exitCode !== 0) return `${agentId}: cannot read ${LOCAL_REMOTE}: ${lastLine(ls.stderr)}`;
  const remote = ls.stdout.split(/\s/)[0] || undefined;
  const local = await readRef(repo.commonDir, MAIN);
  const known = remote ? (await git(['cat-file', '-e', `${remote}^{commit}`], { cwd, allowFailure: true })).exitCode === 0 : true;
  let what: string;
  if (!known) {
    what = "fetch the host's new commits, then fast-forward or merge (if Letta Code's checker accepts the result) and push";
  } else {
    let base: string | undefined;
    if (local && remote && local !== remote) {
      const mb = await git(['merge-base', local, remote], { cwd, allowFailure: true });
      base = mb.exitCode === 0 ? mb.stdout : undefined;
    }
    what = WORDS[planReconcile({ local, remote, base })];
  }
  const blocker = workTreeBlocker(await viewWorkTree(repo, cwd));
  return `${agentId}: would ${what}${blocker ? ` (main would not move now: ${blocker})` : ''}`;
}
