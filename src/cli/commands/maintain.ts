import { formatError, UserError } from '../../core/errors.js';
import { mapLimit } from '../../core/map-limit.js';
import { describeMaintenance, maintainRepo } from '../../server/repo/maintain-repo.js';
import { DEFAULT_POLICY } from '../../server/repo/maintenance.js';
import { loadServerContext } from '../../server/setup/context.js';
import { agentsFromFlags } from '../../server/setup/select.js';
import { AGENT_FLAGS, noPositionals, parseCommandArgs } from '../args.js';
import { errorJson, printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks maintain (--agent <id>... | --all) [--memfs-root <dir>] [options]

Server role. Keeps each agent's repo.git compact (every Letta read and commit copies all of it), safely while the
Letta server runs: writes one new pack holding every object, and deletes loose objects and old packs only once a
pack holding them has been in place for the grace period, so a copy Letta started earlier still finds everything.
Never packs refs and never runs git gc. Also removes push quarantine dirs (objects/tmp_objdir-incoming-*) unchanged
for over a day (a git killed with SIGKILL leaves one; serve ends every push within its --timeout). Deletions take Letta's Redis lock memory_repo:lock:<agent> when
LETTA_REDIS_HOST is set, as the server's commits do. \`watch\` does this by itself for busy repos; run this from cron
to compact everything, e.g. hourly.

  --agent <id>        an agent (repeatable)
  --all               every agent repo under the memfs root
  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --grace <s>         seconds a pack must be in place before what it replaces is deleted (default 300)
  --dry-run           print what would be done; change nothing
  --json              the result as JSON: an array with one object per agent (a failed one: agentId, error)

Run it twice, the grace period apart, to see the loose objects go: the first run packs, the second deletes.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...AGENT_FLAGS,
      grace: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  const grace = v.grace === undefined ? DEFAULT_POLICY.graceMs / 1000 : Number(v.grace);
  if (!Number.isFinite(grace) || grace < 0) throw new UserError(`--grace must be a number of seconds, got ${JSON.stringify(v.grace)}`, 'e.g. --grace 300', 2);
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const repos = await agentsFromFlags(ctx, v.agent, v.all, 'maintain');
  // An operator's run compacts whatever is loose; watch waits for its thresholds.
  const policy = { graceMs: grace * 1000, looseThreshold: 1, packThreshold: 2 };
  let failed = 0;
  const results = await mapLimit(repos, 4, async (repo) => {
    try {
      const r = await maintainRepo(repo, { policy, dryRun: v['dry-run'] });
      if (!v.json) process.stdout.write(`${r.agentId}: ${describeMaintenance(r, v['dry-run']) || 'compact, nothing to do'}\n`);
      return { ...r, plan: { ...r.plan, deleteLoose: r.plan.deleteLoose.length } };
    } catch (err) {
      failed++;
      process.stderr.write(`${repo.agentId}: ${formatError(err)}\n`);
      return { agentId: repo.agentId, ...errorJson(err) };
    }
  });
  if (v.json) printJson(results);
  return failed > 0 ? 1 : 0;
}
