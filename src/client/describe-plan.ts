import { redactUrl } from '../core/redact.js';
import type { ClientInitResult } from './init-client.js';

/** Pure: `init --dry-run`'s report: the git config keys and hooks init would write, from the planner's output. */
export function describeInitPlan(r: ClientInitResult): string {
  const lines = [`dry run: init would set up ${r.plan.agentId} in ${r.repo.workTree} (nothing was written)`];
  const bare = { create: 'a local bare repo, created by init', exists: 'a local bare repo', missing: 'MISSING: init would refuse; create it with git init --bare, or pass --local' };
  if (r.bareRemote) lines.push(`  remote    ${r.plan.externalUrl} (${bare[r.bareRemote]})`);
  for (const [key, values] of Object.entries(r.planned ?? {})) {
    lines.push(values === null ? `  unset     ${key} (if set)` : `  set       ${key} = ${values.map((v) => JSON.stringify(redactUrl(v))).join(', ')}`);
  }
  if (r.authFile) lines.push(`  write     ${r.authFile} (0600, token from ${r.tokenSource})`);
  lines.push(`  hooks     ${r.hooks.join(', ')} into ${r.hooksDir}`);
  return lines.join('\n');
}

/** Pure: `init --json`'s result for one checkout (URLs without user info; the token itself is never in a result). */
export function initResultJson(r: ClientInitResult) {
  const planned = r.planned && Object.fromEntries(Object.entries(r.planned).map(([k, v]) => [redactUrl(k), v && v.map(redactUrl)]));
  return {
    agentId: r.plan.agentId,
    checkout: r.repo.workTree,
    dryRun: Boolean(r.planned),
    changed: r.planned ? false : r.changed,
    local: r.local,
    remote: redactUrl(r.plan.externalUrl),
    redirected: r.plan.lettaUrls.map(redactUrl),
    hooks: r.hooks,
    hooksDir: r.hooksDir,
    ...(r.authFile ? { authFile: r.authFile, tokenSource: r.tokenSource } : {}),
    ...(r.backup ? { backup: r.backup } : {}),
    ...(r.createdLocalRemote ? { createdLocalRemote: true } : {}),
    ...(r.hostRepo ? { hostRepo: r.hostRepo } : {}),
    ...(r.cloned ? { cloned: { from: redactUrl(r.cloned.url), empty: r.cloned.empty } } : {}),
    ...(r.bareRemote ? { bareRemote: r.bareRemote } : {}),
    ...(planned ? { planned } : {}),
  };
}
