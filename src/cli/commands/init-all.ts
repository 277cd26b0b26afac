import { formatError, UserError } from '../../core/errors.js';
import type { ClientInitResult } from '../../client/init-client.js';
import { checkoutRoots, findCheckouts, sharedRecordedRemote } from '../../client/checkouts.js';
import { EXIT } from '../exit-codes.js';
import { progress } from '../progress.js';

/**
 * `init --all`: client init in every ~/.letta/agents/<id>/memory and every local-backend checkout
 * (~/.letta/lc-local-backend/memfs/<id>/memory, and under LETTA_LOCAL_BACKEND_DIR), one line per agent, one failure not stopping the
 * rest. Idempotent, so re-running it (by hand, from cron or a shell profile) picks up agents created since: without
 * --remote it reuses the one template the set-up checkouts recorded.
 */
export async function initAll(dryRun: boolean | undefined, initOne: (dir: string, fallbackRemote?: string) => Promise<ClientInitResult>): Promise<number> {
  const checkouts = await findCheckouts();
  if (checkouts.length === 0) {
    throw new UserError(`no memory checkouts under ${checkoutRoots().join(' or ')}`, 'start each agent once in Letta Code (it clones or creates the checkout there), or run init --repo <dir>');
  }
  const fallback = await sharedRecordedRemote(checkouts);
  const bar = progress('init', checkouts.length);
  let failed = 0;
  for (const c of checkouts) {
    try {
      const r = await initOne(c.dir, fallback);
      bar.clear();
      const what = r.local ? `origin ${r.plan.externalUrl} (local backend)` : `${r.plan.lettaUrls.length} Letta URL(s) -> ${r.plan.externalUrl}`;
      process.stdout.write(`${c.agentId}: ${dryRun ? (r.local ? 'would add' : 'would redirect') : 'set up,'} ${what}\n`);
    } catch (err) {
      failed++;
      bar.clear();
      process.stdout.write(`${c.agentId}: ${formatError(err)}\n`);
    }
    bar.tick();
  }
  bar.done();
  process.stdout.write(`${checkouts.length} checkout(s), ${checkouts.length - failed} ${dryRun ? 'planned' : 'set up'}, ${failed} failed\n`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
