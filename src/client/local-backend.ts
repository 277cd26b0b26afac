/**
 * Letta Code's local backend (0.25.1+): agents `agent-local-<uuid>` whose memory repo lives at
 * `<LETTA_LOCAL_BACKEND_DIR or ~/.letta/lc-local-backend>/memfs/<agentId>/memory` (letta-code
 * src/utils/local-backend-paths.ts getLocalBackendStorageDir, src/backend/local/paths.ts
 * getLocalBackendMemoryFilesystemRoot @ v0.30.29). Letta Code creates it with `git init`, `symbolic-ref HEAD
 * refs/heads/main` and an initial commit, with no remote, and never pulls or pushes it ("Local backend MemFS has no
 * Letta remote to push", src/agent/memory-git.ts syncPendingMemoryCommitsAfterTurn @ v0.30.29).
 *
 * So there is no Letta origin to redirect: `init` adds `origin` pointing at the external host itself (with
 * `branch.main` tracking it, so plain `git pull`/`git push` and Letta Code's own `memory status` ahead count work),
 * a reference-transaction hook pushes each new commit of main in the background, and `pull` merges the other
 * machines' commits in.
 */
import os from 'node:os';
import path from 'node:path';
import { isLocalAgentId } from '../core/agent-id.js';
import { UserError } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';
import type { DesiredConfig } from '../git/config.js';

/** The remote `init` sets up in a local-backend checkout; `origin` because nothing else uses that name there. */
export const LOCAL_REMOTE = 'origin';
export const LOCAL_TRACKING_REF = `refs/remotes/${LOCAL_REMOTE}/main`;

/** `<LETTA_LOCAL_BACKEND_DIR or ~/.letta/lc-local-backend>`, as Letta Code resolves it. */
export function localBackendDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
  return env.LETTA_LOCAL_BACKEND_DIR ?? path.join(home, '.letta', 'lc-local-backend');
}

/**
 * Pure: the agent id a work tree's path names, when it is `<storage>/memfs/<agent-local-id>/memory` (`storage` both
 * as given and resolved, since the checkout path git reports is the real path).
 */
export function localAgentFromPath(workTree: string, storageDirs: readonly string[]): string | undefined {
  const parent = path.dirname(workTree);
  if (path.basename(workTree) !== 'memory') return undefined;
  const id = path.basename(parent);
  if (!isLocalAgentId(id)) return undefined;
  const root = path.dirname(parent);
  return storageDirs.some((s) => path.join(s, 'memfs') === root) ? id : undefined;
}

/**
 * Pure: whether `origin` may be (re)pointed at the external URL: it is unset, already that URL, or the URL of our own
 * previous init (a changed --remote). Anything else is the user's, and init refuses rather than overwrite it.
 */
export function checkLocalOrigin(originUrl: string | undefined, externalUrl: string, previousRemote: string | undefined): void {
  if (!originUrl || originUrl === externalUrl || originUrl === previousRemote) return;
  throw new UserError(
    `origin is already ${redactUrl(originUrl)} in this local-backend checkout`,
    `pass --remote with that URL to use it, or remove it first (git remote remove origin)`,
  );
}

/** Pure: the remote and upstream config of a local-backend checkout. */
export function localRemoteConfig(externalUrl: string): DesiredConfig {
  return {
    [`remote.${LOCAL_REMOTE}.url`]: [externalUrl],
    [`remote.${LOCAL_REMOTE}.fetch`]: [`+refs/heads/*:refs/remotes/${LOCAL_REMOTE}/*`],
    'branch.main.remote': [LOCAL_REMOTE],
    'branch.main.merge': ['refs/heads/main'],
  };
}
