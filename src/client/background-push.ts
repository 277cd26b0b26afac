/**
 * A local-backend checkout's commits reach the external host with no command run: git runs reference-transaction
 * for every commit Letta Code makes, and the hook's shell part (hooks/shim.sh) starts background-push-run.ts
 * detached when main moved, without starting node inside the commit. Letta Code's own post-commit cannot carry it:
 * it rewrites that hook on every memory write (prepareLocalOnlyMemoryRepoForGitOps, letta-code
 * src/agent/memory-git.ts @ v0.30.29).
 *
 * The runner pushes main to origin (never --force; our pre-push checks run as for any push), one push at a time per
 * checkout, and appends one line per attempt to `<state dir>/push.log`. A rejected push (another machine pushed
 * first) waits for the next `letta-memfs-hooks pull`, which merges and pushes.
 */
import path from 'node:path';

export const pushLogFile = (stateDir: string) => path.join(stateDir, 'push.log');
