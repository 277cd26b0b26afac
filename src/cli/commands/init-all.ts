import { formatError } from '../../core/errors.js';
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
    // Nothing to set up is not a failure (a fresh machine, or cron before the first agent): say how one appears.
    process.stdout.write(`no Letta Code memory checkout yet (none under ${checkoutRoots().join(' or ')}): Letta Code makes one when you turn memfs on for an agent (/memfs enable in a conversation; its local backend makes one for each new agent); re-run this then\n`);
    return EXIT.ok;
  }
  const fallback = await sharedRecordedRemote(checkouts);
  const bar = progress('init', checkouts.length);
  let failed = 0;
  let unchanged = 0;
  for (const c of checkouts) {
    try {
      const r = await initOne(c.dir, fallback);
      if (!dryRun && !r.changed) unchanged++;
      bar.clear();
      const verb = dryRun ? (r.local ? 'would add' : 'would redirect') : r.changed ? 'set up,' : 'already set up,';
      const what = r.local ? `origin ${r.plan.externalUrl} (local backend)` : `${r.plan.lettaUrls.length} Letta URL(s) -> ${r.plan.externalUrl}`;
      process.stdout.write(`${c.agentId}: ${verb} ${what}${r.backup && r.backup !== 'up to date' ? `; history ${r.backup}` : ''}\n`);
    } catch (err) {
      failed++;
      bar.clear();
      process.stdout.write(`${c.agentId}: ${formatError(err)}\n`);
    }
    bar.tick();
  }
  bar.done();
  const done = checkouts.length - failed;
  process.stdout.write(`${checkouts.length} checkout(s), ${dryRun ? `${done} planned` : `${done - unchanged} set up, ${unchanged} already set up`}, ${failed} failed\n`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
