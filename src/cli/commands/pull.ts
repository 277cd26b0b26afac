import { mapLimit } from '../../core/map-limit.js';
import { UserError } from '../../core/errors.js';
import { formatError } from '../../core/errors.js';
import { loadServerContext } from '../../server/setup/context.js';
import { type PullOutcome, pullAgent } from '../../server/repo/pull.js';
import { agentsFromFlags } from '../../server/setup/select.js';
import { AGENT_FLAGS, noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { failureLines, pullExitCode, summarize } from '../outcome-lines.js';
import { progress } from '../progress.js';
import { printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks pull [--repo <dir>] [--json]     (in a Letta Code local-backend checkout)
       letta-memfs-hooks pull (--agent <id>... | --all) [--memfs-root <dir>] [options]   (server role)

Local-backend checkout (~/.letta/lc-local-backend/memfs/<agentId>/memory): one two-way round with the external
host: fetch, fast-forward or merge (never with uncommitted changes or a merge or rebase in progress; on a conflict
the host's version wins and this checkout's side is kept under refs/letta-memfs/conflicts/), then push. main only
moves to a result Letta Code's own checker (.git/hooks/letta-memory-constraints.cjs) accepts; otherwise pull exits 1
with the fix and keeps the result under refs/letta-memfs/refused. For cron or a login hook.

Server role. Fetches each agent's external remote into its repo.git, fast-forwards main (compare-and-swap; stock
mode: a push through Letta's /v1/git/), merges and pushes commits the Letta server made, and syncs Letta when
main moved (stock mode: Letta synced it on that push; nothing is called).

  --agent <id>        an agent (repeatable)
  --all               every agent repo under the memfs root
  --memfs-root <dir>  the Letta memfs root (default: the one init --server recorded, else ~/.letta/memfs)
  --config <file>     config file
  --no-sync           only the git side; leave Letta alone (stock mode: main still moves by a push through
                      Letta's /v1/git/, whose own sync follows; only the sync record is left alone)
  --dry-run           print what the pull would do (asks the remote, writes nothing; both forms)
  --json              the result as JSON: server role, an array with one object per agent
  --repo <dir>        the local-backend checkout (default: the current directory)

Exit status: 0 all good, 1 an agent's pull or sync failed, or a local-backend merge was refused (one line each, with
the fix), 3 a conflict was kept under refs/letta-memfs/conflicts/ (see status).`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...AGENT_FLAGS,
      'no-sync': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      repo: { type: 'string' },
    },
    HELP,
  );
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  if (!v.agent && !v.all && !v['memfs-root']) {
    const local = await import('./pull-local.js');
    const code = await local.runLocalPull(v.repo ?? process.cwd(), Boolean(v.json), v.repo !== undefined, Boolean(v['dry-run']));
    if (code !== undefined) return code;
    // Neither form applies: not in a checkout set up by init, and the server form names no agents.
    throw new UserError(
      `${process.cwd()} is not a local-backend checkout set up by init, and no agents were named for the server role`,
      `run pull in ~/.letta/lc-local-backend/memfs/<agentId>/memory after init there (or pass --repo <dir>); server role: pass --agent <id> or --all`,
      EXIT.usage,
    );
  }
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const repos = await agentsFromFlags(ctx, v.agent, v.all, 'pull');
  if (v['dry-run']) {
    const { describePull } = await import('../../server/repo/pull-plan.js');
    const lines = await mapLimit(repos, 8, (r) => describePull(r, ctx.config, Boolean(v['no-sync'])));
    if (v.json) {
      printJson({ dryRun: true, agents: lines });
      return EXIT.ok;
    }
    process.stdout.write(`dry run: nothing is fetched, moved, pushed or synced\n${lines.join('\n')}\n`);
    return EXIT.ok;
  }
  const started = Date.now();
  const bar = v.json ? undefined : progress('pulling', repos.length);
  const outcomes = await mapLimit(repos, 8, async (repo) => {
    const o = await pullAgent(repo, { config: ctx.config, letta: ctx.letta, noSync: v['no-sync'] }).catch(
      (err): PullOutcome => ({ agentId: repo.agentId, steps: [], error: formatError(err) }),
    );
    if (!v.json && (o.steps.length > 0 || failureLines(o).length > 0 || o.conflict || (o.sync && o.sync.action !== 'none') || repos.length === 1)) {
      bar?.clear();
      process.stdout.write(summarize(o) + '\n');
    }
    bar?.tick();
    return o;
  });
  bar?.done();
  if (v.json) printJson(outcomes);
  else if (repos.length > 1) {
    const moved = outcomes.filter((o) => o.steps.length > 0).length;
    const failed = outcomes.filter((o) => failureLines(o).length > 0).length;
    process.stdout.write(`${repos.length} agents, ${moved} moved, ${failed} failed, in ${Date.now() - started} ms\n`);
  }
  return pullExitCode(outcomes);
}
