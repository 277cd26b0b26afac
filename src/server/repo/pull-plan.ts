import { git } from '../../git/git.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import type { Config } from '../../core/config/schema.js';
import type { AgentRepo } from './discover.js';
import { planReconcile, type ReconcileStep } from '../../sync/plan.js';
import { MAIN, readRef } from '../../git/refs.js';
import { lsRemoteMain } from '../../git/remote-head.js';
import { needsSync } from '../letta/sync.js';

const WORDS: Record<ReconcileStep, string> = {
  nothing: 'nothing to do: neither side has a main yet',
  equal: 'up to date',
  'create-main': 'create main from the external main',
  'fast-forward': 'fast-forward main to the external main',
  push: "push the Letta server's commits to the external remote",
  seed: 'seed the empty external remote with main',
  merge: "merge the server's commits with the external main, then push the merge",
};

/** Steps that move main: in stock mode by a push through Letta, which syncs the blocks itself. */
const MOVES_MAIN = new Set<ReconcileStep>(['create-main', 'fast-forward', 'merge']);

/**
 * What `pull` would do for one agent, without writing anything: `ls-remote` (read-only) for the external main, the
 * planner (planReconcile) when both commits are here, and whether a sync call would follow.
 */
export async function describePull(repo: AgentRepo, config: Config, noSync: boolean): Promise<string> {
  const settings = await readSettings(stateDirOf(repo.gitDir)).catch(() => undefined);
  if (!settings?.remote) return `${repo.agentId}: not set up (run letta-memfs-hooks init --server)`;
  const remote = await lsRemoteMain(repo.gitDir, settings.remote, config);
  if (!remote.ok) return `${repo.agentId}: cannot read the external remote: ${remote.error}`;
  const local = await readRef(repo.gitDir, MAIN);
  let what: string;
  // Up to date or nothing to do: a state, not something that would be done.
  let idle = false;
  const known = remote.oid ? (await git(['cat-file', '-e', `${remote.oid}^{commit}`], { gitDir: repo.gitDir, allowFailure: true })).exitCode === 0 : true;
  if (!known) {
    what = 'fetch the external main (new commits), then fast-forward or merge';
  } else {
    let base: string | undefined;
    if (local && remote.oid && local !== remote.oid) {
      const mb = await git(['merge-base', local, remote.oid], { gitDir: repo.gitDir, allowFailure: true });
      base = mb.exitCode === 0 ? mb.stdout : undefined;
    }
    const step = planReconcile({ local, remote: remote.oid, base });
    what = WORDS[step] + (config.serverMode === 'stock' && MOVES_MAIN.has(step) ? " (main moved by a push through Letta's /v1/git/)" : '');
    if (step === 'equal' || step === 'nothing') idle = true;
  }
  const sync = !noSync && config.serverMode !== 'stock' && (await needsSync(repo, { ignoreBackoff: true })) ? '; then sync Letta (a sync is due)' : '';
  return idle && !sync ? `${repo.agentId}: ${what}` : `${repo.agentId}: would ${idle ? 'leave main as it is' : what}${sync}`;
}
