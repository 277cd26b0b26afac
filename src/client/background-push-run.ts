/** Detached runner of background-push.ts: `node background-push-run.js <work tree> <state dir>`; output goes to the log. */
import path from 'node:path';
import { formatError } from '../core/errors.js';
import { waitLock } from '../core/lock.js';
import { git } from '../git/git.js';
import { waitForHarness } from './harness-lease.js';
import { pushLocalMain } from './local-sync.js';

async function main(): Promise<void> {
  const [workTree, stateDir] = process.argv.slice(2);
  if (!workTree || !stateDir) return;
  // Commits in quick succession start one runner each; they queue here, and each pushes main as it is by then.
  const lock = await waitLock(path.join(stateDir, 'push.lock'), 120_000);
  const at = new Date().toISOString();
  if (!lock) {
    process.stdout.write(`${at} push skipped: another push held the lock for 2 minutes\n`);
    return;
  }
  try {
    // Letta Code commits inside its memory lease; pushing then could race its own sync or repair agent.
    const gitDir = path.resolve(workTree, (await git(['rev-parse', '--git-dir'], { cwd: workTree })).stdout);
    const held = await waitForHarness(gitDir);
    if (held) {
      process.stdout.write(`${at} push deferred: ${held}; the next commit or pull pushes it\n`);
      return;
    }
    const r = await pushLocalMain(workTree);
    process.stdout.write(`${at} push ${r.oid?.slice(0, 12) ?? '-'}: ${r.result}${r.detail ? ` (${r.detail})` : ''}\n`);
  } catch (err) {
    process.stdout.write(`${at} push failed: ${formatError(err)}\n`);
  } finally {
    await lock.release();
  }
}

main().catch(() => undefined);
