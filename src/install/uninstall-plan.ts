import path from 'node:path';
import type { Manifest } from './manifest.js';

/**
 * Pure: what `uninstall` would do to a repo, one line per change, for `--dry-run`. `chained` names the hooks
 * whose original was kept at install (it goes back in place of our shim).
 */
export function planUninstall(manifest: Manifest, chained: ReadonlySet<string>, stateDir: string): string[] {
  const lines = manifest.hooks.map((h) =>
    chained.has(h) ? `restore hook ${h} (the one that was there before init)` : `remove hook ${path.join(manifest.hooksDir, h)}`,
  );
  for (const c of manifest.configChanges) {
    lines.push(c.previous === null ? `unset ${c.key}` : `set ${c.key} back to ${c.previous.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  lines.push(`delete ${stateDir} (settings, stored token, hook state)`);
  return lines;
}
