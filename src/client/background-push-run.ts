/**
 * The background push of a local-backend checkout: `node background-push.mjs <state dir>`, started detached by the
 * reference-transaction hook's shell part (hooks/shim.sh) for each commit that moves main; output goes to push.log.
 */
import path from 'node:path';
import { formatError } from '../core/errors.js';
import { waitLock } from '../core/lock.js';
import { readSettings } from '../core/settings.js';
import { pushLocalMain } from './local-sync.js';

async function main(): Promise<void> {
  const [stateDir] = process.argv.slice(2);
  if (!stateDir) return;
  // The shim does not read settings; a checkout that is no longer a local-backend one is left alone here.
  const settings = await readSettings(stateDir).catch(() => undefined);
  if (settings?.role !== 'client' || settings.backend !== 'local') return;
  // Commits in quick succession start one runner each; they queue here, and each pushes main as it is by then.
  const lock = await waitLock(path.join(stateDir, 'push.lock'), 120_000);
  const at = new Date().toISOString();
  if (!lock) {
    process.stdout.write(`${at} push skipped: another push held the lock for 2 minutes\n`);
    return;
  }
  try {
    const r = await pushLocalMain({ gitDir: path.dirname(stateDir) });
    process.stdout.write(`${at} push ${r.oid?.slice(0, 12) ?? '-'}: ${r.result}${r.detail ? ` (${r.detail})` : ''}\n`);
  } catch (err) {
    process.stdout.write(`${at} push failed: ${formatError(err)}\n`);
  } finally {
    await lock.release();
  }
}

main().catch(() => undefined);
