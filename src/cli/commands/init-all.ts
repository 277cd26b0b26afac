import { formatError } from '../../core/errors.js';
import { initResultJson } from '../../client/describe-plan.js';
import { errorJson, printJson } from '../json.js';
import type { ClientInitResult } from '../../client/init-client.js';
import { type Checkout, checkoutRoots, findCheckouts, sharedRecordedRemote } from '../../client/checkouts.js';
import type { ToClone } from '../../client/new-checkouts.js';
import { MissingRepoError } from '../../core/host-repo/missing.js';
import { EXIT } from '../exit-codes.js';
import { progress } from '../progress.js';

/**
 * `init --all`: client init in every ~/.letta/agents/<id>/memory and every local-backend checkout
 * (~/.letta/lc-local-backend/memfs/<id>/memory, and under LETTA_LOCAL_BACKEND_DIR), one line per agent, one failure not stopping the
 * rest. Idempotent, so re-running it (by hand, from cron or a shell profile) picks up agents created since: without
 * --remote it reuses the one template the set-up checkouts recorded.
 */
export async function initAll(
  dryRun: boolean | undefined,
  initOne: (dir: string, fallbackRemote?: string) => Promise<ClientInitResult>,
  json = false,
  toClone?: (existing: Checkout[], fallbackRemote?: string) => Promise<ToClone>,
): Promise<number> {
  const existing = await findCheckouts();
  // Text lines go out as they happen; with --json nothing but the one document at the end.
  const say = (line: string) => {
    if (!json) process.stdout.write(line + '\n');
  };
  const fallback = await sharedRecordedRemote(existing);
  // A new machine: agents listed here or on the host with no checkout yet are cloned (first-checkout.ts).
  const missing = toClone ? await toClone(existing, fallback) : { checkouts: [], notes: [] };
  missing.notes.forEach(say);
  const checkouts = [...existing, ...missing.checkouts];
  if (checkouts.length === 0) {
    // Nothing to set up is not a failure (a fresh machine, or cron before the first agent): say how one appears.
    const none = `no Letta Code memory checkout yet (none under ${checkoutRoots().join(' or ')}): Letta Code makes one when you turn memfs on for an agent (/memfs enable in a conversation; its local backend makes one for each new agent); re-run this then`;
    if (json) printJson({ checkouts: [], roots: checkoutRoots(), note: none });
    say(none);
    return EXIT.ok;
  }
  const bar = progress('init', checkouts.length);
  const rows: object[] = [];
  let failed = 0;
  let unchanged = 0;
  let skipped = 0;
  for (const c of checkouts) {
    if (dryRun && !existing.includes(c)) {
      rows.push({ agentId: c.agentId, checkout: c.dir, dryRun: true, wouldClone: true });
      bar.clear();
      say(`${c.agentId}: would clone from the host into ${c.dir}, then set it up`);
      bar.tick();
      continue;
    }
    try {
      const r = await initOne(c.dir, fallback);
      if (!dryRun && !r.changed) unchanged++;
      rows.push(initResultJson(r));
      bar.clear();
      const verb = dryRun ? (r.local ? 'would add' : 'would redirect') : r.cloned ? 'cloned from the host, set up,' : r.changed ? 'set up,' : 'already set up,';
      const what = r.local ? `origin ${r.plan.externalUrl} (local backend)` : `${r.plan.lettaUrls.length} Letta URL(s) -> ${r.plan.externalUrl}`;
      say(`${c.agentId}: ${verb} ${what}${r.backup && r.backup !== 'up to date' ? `; history ${r.backup}` : ''}`);
    } catch (err) {
      // An agent listed by Letta or Letta Code but with no repo on the host yet: nothing to clone, no failure.
      if (err instanceof MissingRepoError && !existing.includes(c)) {
        skipped++;
        rows.push({ agentId: c.agentId, checkout: c.dir, skipped: 'no repo on the host' });
        bar.clear();
        say(`${c.agentId}: not cloned: no repo on the host yet (--create-repos creates it)`);
        bar.tick();
        continue;
      }
      failed++;
      rows.push({ agentId: c.agentId, checkout: c.dir, ...errorJson(err) });
      bar.clear();
      say(`${c.agentId}: ${formatError(err)}`);
    }
    bar.tick();
  }
  bar.done();
  const done = checkouts.length - failed - skipped;
  const counts = dryRun ? { planned: done, failed } : { setUp: done - unchanged, alreadySetUp: unchanged, failed, ...(skipped ? { notOnHost: skipped } : {}) };
  if (json) printJson({ checkouts: rows, ...counts });
  const notOnHost = skipped ? `, ${skipped} not on the host` : '';
  say(`${checkouts.length - skipped} checkout(s), ${dryRun ? `${done} planned` : `${done - unchanged} set up, ${unchanged} already set up`}, ${failed} failed${notOnHost}`);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
