/**
 * A local-backend checkout's commits reach the external host with no command run: git runs reference-transaction
 * (committed, main updated: hooks/shim.sh filters in shell) for every commit Letta Code makes, and the hook starts
 * this module's runner detached and returns. Letta Code's own post-commit cannot carry it: it rewrites that hook on
 * every memory write (prepareLocalOnlyMemoryRepoForGitOps, letta-code src/agent/memory-git.ts @ v0.30.29).
 *
 * The runner pushes main to origin (never --force; our pre-push checks run as for any push), one push at a time per
 * checkout, and appends one line per attempt to `<state dir>/push.log`. A rejected push (another machine pushed
 * first) waits for the next `letta-memfs-hooks pull`, which merges and pushes.
 */
import { spawn } from 'node:child_process';
import { entryPath } from '../core/package.js';
import fs from 'node:fs/promises';
import path from 'node:path';


export const pushLogFile = (stateDir: string) => path.join(stateDir, 'push.log');

/** Starts the runner detached, output to the log, and returns at once: the commit never waits for the network. */
export async function startBackgroundPush(workTree: string, stateDir: string): Promise<void> {
  const log = await fs.open(pushLogFile(stateDir), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [entryPath('background-push'), workTree, stateDir], { cwd: workTree, detached: true, stdio: ['ignore', log.fd, log.fd] });
    child.unref();
  } finally {
    await log.close();
  }
}
