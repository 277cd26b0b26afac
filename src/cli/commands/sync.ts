import { mapLimit } from '../../core/map-limit.js';
import { UserError } from '../../core/errors.js';
import { type ServerContext, contextFromRepo, loadServerContext } from '../../server/setup/context.js';
import type { AgentRepo } from '../../server/repo/discover.js';
import { discoverAgents } from '../../server/repo/discover.js';
import { agentsFromFlags } from '../../server/setup/select.js';
import { needsSync, type SyncOutcome, syncAgent } from '../../server/letta/sync.js';
import { readSyncState, writeSyncState } from '../../server/letta/sync-state.js';
import { AGENT_FLAGS, noPositionals, parseCommandArgs } from '../args.js';
import { JSON_FLAG, printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks sync (--agent <id>... | --all | --pending) [--memfs-root <dir>] [options]

Server role. Patched mode: asks Letta to re-read each agent's memory from repo.git (POST
/v1/agents/{id}/memory/sync-from-git), with recompile=true only when system/ changed since the last acknowledged
sync. Nothing is sent for an agent whose main was already acknowledged. Stock mode: no call at all; main moves
only through Letta there (its own commits, or pushes through its /v1/git/ that it syncs itself), so this only
records main as what Letta holds (the hooks run the same).

  --agent <id>        an agent (repeatable)
  --all               every agent repo under the memfs root
  --pending           every agent with an undelivered sync (what hooks or watch could not deliver)
  --force             forget the last acknowledged commit first: resync everything, with recompile (patched mode)
  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --git-dir <dir>     one repo.git, using the settings init recorded there (what hooks run)
  --quiet             print failures only
  --json              print the result as one JSON array, one object per agent (agentId, action, ...)

Exit status: 0 delivered (or nothing to do), 1 a sync could not be delivered (it stays pending).`;

function line(o: SyncOutcome): string {
  if (o.action === 'failed') return `${o.agentId}: sync failed (stays pending): ${o.error}`;
  if (o.action === 'synced') return `${o.agentId}: synced ${o.target?.slice(0, 12)}${o.recompile ? ' (recompile)' : ''}`;
  if (o.action === 'busy') return `${o.agentId}: another process is delivering this sync`;
  return `${o.agentId}: ${o.action === 'marked' ? 'acknowledged without a call (server commits; stock mode: any main)' : 'already synced'}`;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...AGENT_FLAGS,
      pending: { type: 'boolean' },
      force: { type: 'boolean' },
      'git-dir': { type: 'string' },
      quiet: { type: 'boolean' },
      ...JSON_FLAG,
    },
    HELP,
  );
  if (!parsed) return 0;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  let ctx: ServerContext;
  let repos: AgentRepo[];
  if (v['git-dir']) {
    const r = await contextFromRepo(v['git-dir']);
    ctx = r.ctx;
    repos = [r.repo];
  } else {
    ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
    if (v.pending) {
      if (v.agent || v.all) throw new UserError('--pending selects agents itself', 'drop --agent/--all', 2);
      const all = (await discoverAgents(ctx.memfsRoot)).repos;
      const flags = await mapLimit(all, 16, (r) => needsSync(r, { ignoreBackoff: true }));
      repos = all.filter((_, i) => flags[i]);
    } else {
      repos = await agentsFromFlags(ctx, v.agent, v.all, 'sync');
    }
  }
  if (v.force && ctx.letta.mode === 'stock') {
    throw new UserError('sync --force needs the sync-from-git endpoint; the server mode is stock', "make Letta re-read a file by pushing a commit that changes it through its /v1/git/ (or run init --server --mode patched on a patched server)", 2);
  }
  const outcomes = await mapLimit(repos, 4, async (repo) => {
    if (v.force) {
      const state = await readSyncState(repo.gitDir);
      await writeSyncState(repo.gitDir, { ...state, lastSynced: undefined });
    }
    const o = await syncAgent(repo, ctx.letta, { waitMs: 60_000 });
    if (!v.json && (!v.quiet || o.action === 'failed')) process.stdout.write(line(o) + '\n');
    return o;
  });
  if (v.json) printJson(outcomes);
  else if (v.pending && !v.quiet) process.stdout.write(`${repos.length} agent(s) had a pending sync\n`);
  return outcomes.some((o) => o.action === 'failed') ? 1 : 0;
}
