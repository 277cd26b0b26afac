import { mapLimit } from '../../core/map-limit.js';
import { loadServerContext } from '../../server/setup/context.js';
import { discoverAgents, selectAgents } from '../../server/repo/discover.js';
import { type AgentStatus, agentStatus, formatAgentStatus, statusExitCode } from '../../server/setup/status.js';
import { formatStatusTable } from '../../server/setup/status-table.js';
import { UserError } from '../../core/errors.js';
import type { ServerMode } from '../../core/config/schema.js';
import { selfCommand } from '../../core/self-command.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks status --server [--memfs-root <dir>] [--agent <id>...] [--remote] [--table | --json]

Server role: the server mode (stock or patched, as init --server recorded it), and per agent the repo.git main,
the external main, the last synced commit, a pending sync, conflict refs, refs under refs/letta-memfs/conflicts/
that no conflict of ours recorded (UNKNOWN REF: never merge those) and the last error (--json: the same per agent,
with its "mode"). Exit status: 3 a conflict ref exists, 1 an error, missing hooks or an unknown ref, 0 otherwise.

  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --agent <id>        only this agent (repeatable)
  --remote            ask the external host for its main (network) instead of the last fetched value
  --table             one line per agent (state, heads, its most urgent problem), agents with a problem first
  --json              JSON array`;

/** The server mode, and agents whose recorded settings still name another one (init --server not re-run). */
function modeLine(mode: ServerMode, all: readonly AgentStatus[]): string {
  const other = all.filter((s) => s.setUp && s.mode !== mode).length;
  const how = mode === 'stock' ? "external commits pushed through Letta's /v1/git/" : 'the sync-from-git endpoint';
  return `server mode ${mode} (${how})${other ? `; ${other} agent(s) still set up for the other mode (fix: re-run ${selfCommand()} init --server)` : ''}`;
}

/** `status --server` (src/cli/commands/status.ts hands over everything but --server). */
export async function serverStatus(opts: { argv: string[] }): Promise<number> {
  const parsed = parseCommandArgs(
    opts.argv,
    {
      'memfs-root': { type: 'string' },
      config: { type: 'string' },
      agent: { type: 'string', multiple: true },
      remote: { type: 'boolean' },
      json: { type: 'boolean' },
      table: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  if (v.table && v.json) throw new UserError('--table and --json are two views of the same status', 'pass one of them', 2);
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const repos = v.agent?.length ? await selectAgents(ctx.memfsRoot, v.agent) : (await discoverAgents(ctx.memfsRoot)).repos;
  const all = await mapLimit(repos, 16, (r) => agentStatus(r, ctx, Boolean(v.remote)));
  if (v.json) printJson(all);
  else {
    if (v.table) process.stdout.write(all.length ? formatStatusTable(all) : '');
    else process.stdout.write(all.map(formatAgentStatus).join('\n') + (all.length ? '\n' : ''));
    const pending = all.filter((s) => s.pending).length;
    const conflicts = all.reduce((n, s) => n + s.conflicts.length, 0);
    process.stdout.write(`${all.length} agent(s) under ${ctx.memfsRoot}: ${pending} pending sync(s), ${conflicts} conflict ref(s); ${modeLine(ctx.config.serverMode, all)}\n`);
  }
  return statusExitCode(all);
}
