import { UserError } from '../../core/errors.js';
import { loadServerContext } from '../../server/setup/context.js';
import { discoverAgents, selectAgents } from '../../server/repo/discover.js';
import { type Check, checkGit, checkLetta, checkRemotes, checkRepos, formatCheck } from '../../server/setup/doctor.js';
import { parseCommandArgs } from '../args.js';

const HELP = `usage: letta-memfs-hooks doctor [--memfs-root <dir>] [--agent <id>...] [--remotes <n>] [--json]

Server role checks, each with its fix: git version (2.38+), Letta reachable, auth accepted, the sync-from-git
endpoint present (HTTP 404 means the server patch is missing), the external remote reachable with the configured
token, and hooks installed and executable in every agent repo. Repairs hooks whose hook runtime is gone (installs
this package's runtime and rewrites them). Exit status 1 when any check fails.

  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --agent <id>        check these agents' remotes (repeatable); default the first --remotes agents
  --remotes <n>       how many agents' remotes to contact (default 3)
  --json              JSON array of checks`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { 'memfs-root': { type: 'string' }, config: { type: 'string' }, agent: { type: 'string', multiple: true }, remotes: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  const checks: Check[] = [await checkGit()];
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  checks.push(...(await checkLetta(ctx)));
  // A fresh server has no repository/ until its first git-enabled agent: a failed check, not the end of the report.
  const discovery = await discoverAgents(ctx.memfsRoot).catch((err: unknown) => {
    if (!(err instanceof UserError)) throw err;
    checks.push({ name: 'memfs root', ok: false, detail: err.message, fix: err.fix });
    return undefined;
  });
  if (discovery) {
    const chosen = v.agent?.length ? await selectAgents(ctx.memfsRoot, v.agent) : discovery.repos;
    checks.push(...(await checkRemotes(ctx, chosen, v.agent?.length ? chosen.length : Number(v.remotes ?? 3))));
    checks.push(...(await checkRepos(ctx, discovery.repos)));
    checks.push(await (await import('../../server/setup/repair-runtime.js')).repairRuntimes(ctx, discovery.repos));
  }
  if (v.json) process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
  else process.stdout.write(checks.map(formatCheck).join('\n') + '\n');
  return checks.every((c) => c.ok) ? 0 : 1;
}
