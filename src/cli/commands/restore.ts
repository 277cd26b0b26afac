import fsSync from 'node:fs';
import os from 'node:os';
import { validateLayer } from '../../core/config/schema.js';
import { noHooksPathOutsideRepos } from '../../git/hooks-path.js';
import { UserError } from '../../core/errors.js';
import { mapLimit } from '../../core/map-limit.js';
import { selfCommand } from '../../core/self-command.js';
import { hasPlaceholder } from '../../core/template.js';
import { validateAgentId } from '../../core/agent-id.js';
import { USAGE } from '../../core/config/values.js';
import { actorOrg, listGitAgents } from '../../server/letta/letta-list.js';
import { type AgentRepo, agentRepoPath, discoverAgents, isOrgId } from '../../server/repo/discover.js';
import { describeStep } from '../../server/restore/plan.js';
import { planAgent, type RestoreOutcome, restoreAgent } from '../../server/restore/restore.js';
import { loadServerContext, type ServerContext } from '../../server/setup/context.js';
import { checkServerConfig } from '../../server/setup/init-server.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { printJson } from '../json.js';
import { failureLines, pullExitCode, summarize } from '../outcome-lines.js';
import { progress } from '../progress.js';

const HELP = `usage: letta-memfs-hooks restore [--agent <id>...] [--memfs-root <dir>] [options]

Server role. Rebuilds the Letta server's memory repos from the external host: for every agent Letta lists with git
memory (tag git-memory-enabled), or the --agent ones, brings repo.git back under
<memfs-root>/repository/<org>/<agent>/repo.git as Letta makes it (non-bare, HEAD at main), sets it up as
init --server does (remote, gc.auto=0, hooks) for watch and serve, and makes Letta's blocks match main (patched:
sync-from-git; stock: main is created by a push through Letta's /v1/git/, and Letta syncs the blocks itself).
  repo.git missing              cloned from the host
  repo.git failing git fsck     moved aside to repo.git.broken-<UTC time> next to it, then cloned
  repo.git sound                set up, then pulled: the host's newer commits fast-forward main; the server's newer
                                commits are merged and pushed, never overwritten; equal: nothing to do
Idempotent: run it again after a failure.

  --agent <id>        only this agent (repeatable); default: every agent Letta lists with git memory
  --memfs-root <dir>  the Letta memfs root (default: the one init --server recorded, else ~/.letta/memfs)
  --remote <url>      external git URL with {agentId} (default: the one init --server recorded)
  --letta-url <url>   Letta server base URL (default: recorded, else http://localhost:8283)
  --mode <m>          stock or patched (default: the mode init --server recorded, else patched)
  --org <org-id>      the org directory for repos to create (default: the organization of the Letta actor)
  --config <file>     config file
  --no-sync           patched mode: leave the sync pending (watch or sync --pending delivers it)
  --dry-run           print what restore would do; asks Letta and the host, changes nothing
  --json              the result as JSON: an array with one object per agent

Exit status: 0 all restored, 1 an agent failed (one line each, with the fix), 3 a merge kept a conflict under
refs/letta-memfs/conflicts/ (see status --server).`;

/** The agents to restore with their repo.git paths: an existing repo keeps its org; a new one goes under the actor's. */
async function targets(ctx: ServerContext, ids: string[], org: string | undefined): Promise<AgentRepo[]> {
  const found = new Map((await discoverAgents(ctx.memfsRoot)).repos.map((r) => [r.agentId, r]));
  const missing = ids.filter((id) => !found.has(id));
  const orgId = missing.length > 0 ? (org ?? (await actorOrg(ctx.letta))) : undefined;
  return ids.map((id) => found.get(id) ?? { agentId: id, orgId: orgId!, gitDir: agentRepoPath(ctx.memfsRoot, orgId!, id) });
}

/** Pure: one line for an agent's restore. */
export function outcomeLine(o: RestoreOutcome): string {
  if (o.error && !o.pull) return `${o.agentId}: restore failed: ${o.error}`;
  const did = o.action === 'clone' ? 'cloned from the host; ' : o.action === 'replace' ? `repo.git failed git fsck, moved aside to ${o.movedAside}; cloned from the host; ` : '';
  const pull = summarize(o.pull!);
  if (!did) return pull;
  // After a clone, pull finding main equal to the host's is the expected end, not news.
  // Stock mode: pull created main by a push through Letta, whose own sync followed (pull only marks it as synced).
  const rest = pull
    .slice(o.agentId.length + 2)
    .replace(/^up to date(; )?/, '')
    .replace(/^create-main(; marked)?/, "main created by a push through Letta's /v1/git/ (Letta syncs the blocks)");
  return `${o.agentId}: ${did}${rest}`.replace(/; $/, '');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      agent: { type: 'string', multiple: true },
      'memfs-root': { type: 'string' },
      config: { type: 'string' },
      remote: { type: 'string' },
      'letta-url': { type: 'string' },
      mode: { type: 'string' },
      org: { type: 'string' },
      'no-sync': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  if (v.org !== undefined && !isOrgId(v.org)) throw new UserError(`--org must be org-<uuid>, got ${JSON.stringify(String(v.org).slice(0, 60))}`, 'e.g. --org org-00000000-0000-4000-8000-000000000000', USAGE);
  v.agent?.forEach((id) => validateAgentId(id, '--agent', USAGE));
  const mode = v.mode === undefined ? {} : validateLayer({ serverMode: v.mode }, 'command-line flags');
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config, lettaUrl: v['letta-url'], remote: v.remote });
  if (mode.serverMode) ctx.letta.mode = ctx.config.serverMode = mode.serverMode;
  const { remote } = checkServerConfig(ctx.config);
  const ids = v.agent?.length ? [...new Set(v.agent)] : await listGitAgents(ctx.letta);
  if (ids.length > 1 && !hasPlaceholder(remote)) throw new UserError(`remote ${remote} has no {agentId} but ${ids.length} agents would share it`, 'put {agentId} in the URL (--remote), or pass --agent <id>', USAGE);
  if (ids.length === 0) {
    if (v.json) printJson([]);
    else process.stdout.write(`nothing to restore: Letta at ${ctx.letta.baseUrl} lists no agent with the git-memory-enabled tag for ${ctx.letta.userId ?? 'its default user'} (pass --agent <id>, or set lettaUserId)\n`);
    return EXIT.ok;
  }
  const repos = await targets(ctx, ids, v.org);
  // Asked once for the batch, as init --server does (outside any repo: only global and system config count).
  const noHooksPathOutside = await noHooksPathOutsideRepos({ cwd: fsSync.existsSync(ctx.memfsRoot) ? ctx.memfsRoot : os.tmpdir() });
  const rctx = { config: ctx.config, letta: ctx.letta, noSync: v['no-sync'], noHooksPathOutside };
  const modeName = ctx.config.serverMode === 'stock' ? 'stock' : 'patched';
  if (v['dry-run']) {
    const steps = await mapLimit(repos, 8, async (r) => ({ ...r, ...(await planAgent(r, rctx, true)).step }));
    const lines = steps.map((s) => describeStep(s.agentId, s, modeName));
    if (v.json) printJson({ dryRun: true, serverMode: modeName, agents: steps.map((s, i) => ({ ...s, would: lines[i] })) });
    else process.stdout.write(`dry run: nothing is cloned, moved, pushed or synced (${repos.length} agent(s), ${modeName} mode)\n${lines.join('\n')}\n`);
    return steps.some((s) => s.action === 'fail') ? EXIT.failed : EXIT.ok;
  }
  const started = Date.now();
  const bar = v.json ? undefined : progress('restoring', repos.length);
  const outcomes = await mapLimit(repos, 8, async (repo) => {
    const o = await restoreAgent(repo, rctx);
    if (!v.json) {
      bar?.clear();
      process.stdout.write(outcomeLine(o) + '\n');
    }
    bar?.tick();
    return o;
  });
  bar?.done();
  if (v.json) printJson(outcomes);
  else {
    const failed = outcomes.filter((o) => o.error || (o.pull && failureLines(o.pull).length > 0)).length;
    const cloned = outcomes.filter((o) => !o.error && (o.action === 'clone' || o.action === 'replace')).length;
    process.stdout.write(`${repos.length} agent(s), ${cloned} cloned from the host, ${failed} failed, in ${Date.now() - started} ms${failed ? '' : `; next: keep '${selfCommand()} watch' running`}\n`);
  }
  if (outcomes.some((o) => o.error && !o.pull)) return EXIT.failed;
  return pullExitCode(outcomes.flatMap((o) => (o.pull ? [o.pull] : [])));
}
