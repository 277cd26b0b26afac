import { UserError } from '../../core/errors.js';
import { type Check, formatCheck } from '../../core/check.js';
import { resolveRepo } from '../../git/git.js';
import { readManifest } from '../../install/manifest.js';
import { stateDirOf } from '../../core/settings.js';
import { defaultMemfsRoot } from '../../core/user-state.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { repoDirFlag } from '../repo-dir.js';
import { printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks doctor [--repo DIR] [--json]                    (client: a memory checkout)
       letta-memfs-hooks doctor --server [--memfs-root <dir>] [options]  (server: the Letta host)

Client (in a checkout set up by init, or with --repo): set up, origin redirected, the Letta API key kept off your
host, the stored token current, hooks installed, the external remote reachable through origin.

Server (--server, --memfs-root, or outside a checkout): git version (2.38+), Letta reachable and really Letta (its
/v1/health/ route and version), auth accepted, the server mode against the server (patched needs the sync-from-git
endpoint; Letta without it is what stock mode fits), in stock mode whether serve answers behind Letta's /v1/git/,
the external remote reachable with the configured token, and hooks in every agent repo. Repairs hooks whose hook
runtime is gone (installs this package's runtime and rewrites them).

Each failed check prints its fix. Exit status 1 when any check fails.

  --repo <dir>        the client checkout (default: current directory)
  --server            the server role checks
  --memfs-root <dir>  the Letta memfs root (default: the one init --server recorded, else ~/.letta/memfs)
  --letta-url <url>   the Letta server to check (default: lettaUrl from config, LETTA_BASE_URL)
  --config <file>     config file
  --agent <id>        check these agents' remotes (repeatable); default the first --remotes agents
  --remotes <n>       how many agents' remotes to contact (default 3)
  --json              JSON array of checks`;

/** A client checkout set up by init, at the current directory: then `doctor` means the client role. */
async function inClientCheckout(): Promise<boolean> {
  const repo = await resolveRepo({ cwd: process.cwd() }).catch(() => undefined);
  if (!repo?.workTree) return false;
  return (await readManifest(stateDirOf(repo.commonDir)).catch(() => undefined))?.role === 'client';
}

async function serverChecks(v: { 'memfs-root'?: string; config?: string; 'letta-url'?: string; agent?: string[]; remotes?: string }): Promise<Check[]> {
  const { loadServerContext } = await import('../../server/setup/context.js');
  const { discoverAgents, noAgentsYetLine, selectAgents } = await import('../../server/repo/discover.js');
  const { checkGit, checkLetta, checkRemotes, checkRepos, checkService } = await import('../../server/setup/doctor.js');
  const { inspectLetta } = await import('../../server/setup/server-mode.js');
  const checks: Check[] = [await checkGit()];
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config, lettaUrl: v['letta-url'] });
  const kind = await inspectLetta(ctx.letta);
  checks.push(...(await checkLetta(ctx, kind)));
  // A fresh server has no repository/ until its first git-enabled agent: a failed check, not the end of the report.
  const discovery = await discoverAgents(ctx.memfsRoot);
  if (discovery.noRepositoryYet) {
    checks.push({ name: 'memfs root', ok: false, detail: noAgentsYetLine(discovery.noRepositoryYet), fix: 'give an agent git memory in Letta (Letta Code: /memfs enable), or pass the right --memfs-root' });
  } else {
    const chosen = v.agent?.length ? await selectAgents(ctx.memfsRoot, v.agent) : discovery.repos;
    checks.push(...(await checkService(ctx, kind, chosen)));
    checks.push(...(await checkRemotes(ctx, chosen, v.agent?.length ? chosen.length : Number(v.remotes ?? 3))));
    checks.push(...(await checkRepos(ctx, discovery.repos)));
    checks.push(await (await import('../../server/setup/repair-runtime.js')).repairRuntimes(ctx, discovery.repos));
  }
  return checks;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      repo: { type: 'string' },
      server: { type: 'boolean' },
      'memfs-root': { type: 'string' },
      'letta-url': { type: 'string' },
      config: { type: 'string' },
      agent: { type: 'string', multiple: true },
      remotes: { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  if (v.remotes !== undefined && !/^\d+$/.test(v.remotes)) throw new UserError(`--remotes must be a whole number, got ${JSON.stringify(v.remotes)}`, 'e.g. --remotes 3', EXIT.usage);
  const serverAsked = Boolean(v.server || v['memfs-root'] || v.agent?.length || v.remotes);
  if (v.repo && serverAsked) throw new UserError('--repo is for a client checkout; --server options for the Letta host', 'pass one or the other', EXIT.usage);
  const client =
    Boolean(v.repo) ||
    (!serverAsked && ((await inClientCheckout()) || (!process.env.LETTA_MEMFS_ROOT && !(await defaultMemfsRoot()) && (await resolveRepo({ cwd: process.cwd() }).then((r) => Boolean(r.workTree), () => false)))));
  if (!client && !serverAsked && !process.env.LETTA_MEMFS_ROOT && !(await defaultMemfsRoot())) {
    // Neither a checkout here nor a Letta host on this machine: say where the checkouts are, not how to run a server.
    const { findCheckouts } = await import('../../client/checkouts.js');
    const found = await findCheckouts();
    const where = found.length ? `e.g. --repo ${found[0].dir} (${found.length} checkout(s) on this machine)` : 'none on this machine yet: Letta Code makes one when you turn memfs on for an agent';
    throw new UserError('not in a memory checkout', `run doctor inside one, or pass --repo <dir>: ${where}; on the Letta host: doctor --server --memfs-root <dir>`, EXIT.usage);
  }
  let checks: Check[];
  if (client) {
    const { clientChecks } = await import('../../client/doctor.js');
    checks = await clientChecks(await resolveRepo({ cwd: await repoDirFlag(v.repo) }));
  } else {
    checks = await serverChecks(v);
  }
  if (v.json) printJson(checks);
  else process.stdout.write(checks.map(formatCheck).join('\n') + '\n');
  return checks.every((c) => c.ok) ? EXIT.ok : EXIT.failed;
}
