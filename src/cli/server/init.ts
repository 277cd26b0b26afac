import type { Config } from '../../core/config/schema.js';
import { mergeLayers, validateLayer } from '../../core/config/schema.js';
import fsSync from 'node:fs';
import { UserError } from '../../core/errors.js';
import { readTokenFile } from '../../core/token.js';
import { exists } from '../../core/fs.js';
import { writeJsonAtomic } from '../../core/settings.js';
import { readDataFile } from '../../core/config/data-file.js';
import { checkConfigFileName, envLayer } from '../../core/config/load.js';
import { discoverAgents, noAgentsYetLine } from '../../server/repo/discover.js';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadServerContext } from '../../server/setup/context.js';
import { checkServerConfig, serverConfigFile, setupServer } from '../../server/setup/init-server.js';
import { parseCommandArgs } from '../args.js';
import { selfCommand } from '../../core/self-command.js';
import { defaultMemfsRoot, rememberMemfsRoot } from '../../core/user-state.js';
import { withProgress } from '../progress.js';
import { printServerPlan } from './init-dry-run.js';
import { lettaOptionsFromConfig } from '../../server/letta/letta-api.js';
import { chooseMode, inspectLetta } from '../../server/setup/server-mode.js';
import { printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks init --server --memfs-root <dir> --remote <url> [options]

Server role: sets up every agent repo under <memfs-root>/repository/<org>/<agent>/repo.git (or --agent ones):
the external remote (letta-memfs), gc.auto=0, and reference-transaction, post-merge and post-checkout hooks as
files in repo.git/hooks. Records the settings in <memfs-root>/.letta-memfs-hooksrc.json for watch, pull and sync.
Idempotent: re-run it any time; watch also sets up agents created later.

  --memfs-root <dir>     the Letta memfs root (~/.letta/memfs on the server; env LETTA_MEMFS_ROOT)
  --remote <url>         external git URL with {agentId}, e.g. 'https://git.example.com/agents/{agentId}.git'
  --letta-url <url>      Letta server base URL (default http://localhost:8283)
  --mode <m>             stock: unpatched Letta with LETTA_MEMFS_SERVICE_URL at our serve command; external commits
                         are pushed through its /v1/git/. patched: Letta with the sync-from-git endpoint. Default:
                         the mode recorded earlier, else detected (endpoint present: patched, else stock); a Letta
                         that cannot be asked leaves it unrecorded (patched applies)
  --letta-user <id>      Letta actor sent as the user_id header (user-<uuid>)
  --password-env <VAR>   env var holding the Letta server password (default LETTA_SERVER_PASSWORD)
  --git-user <name>      user name for HTTPS auth to the external host (default git)
  --token-env <VAR>      env var holding the external host's token (default LETTA_MEMFS_GIT_TOKEN)
  --token-file <file>    chmod 600 file holding the token, used when the env var is unset
  --create-repos <kind>  create each agent's repo on the host when it is missing (private), here and in watch,
                         serve and pull: github (user or org), gitea (Gitea/Forgejo user or org) or gitlab
                         (namespace), through that host's API with the token (env LETTA_MEMFS_CREATE_REPOS)
  --host-api-url <url>   that API's base when not derived from the remote (e.g. https://ghe.example.com/api/v3)
  --agent <id>           only this agent (repeatable); default every agent
  --config <file>        config file instead of <memfs-root>/.letta-memfs-hooksrc.json
  --json                 print the result as one JSON document (with --dry-run too)
  -y, --yes              accepted for scripts that pass it to both roles (init --server never asks)
  --dry-run              print what would be set up; change nothing`;

/** `init --server` from the command line (src/cli/commands/init.ts hands over everything but --server). */
export async function initServer(opts: { argv: string[] }): Promise<number> {
  const parsed = parseCommandArgs(
    opts.argv,
    {
      'memfs-root': { type: 'string' },
      remote: { type: 'string' },
      'letta-url': { type: 'string' },
      mode: { type: 'string' },
      'letta-user': { type: 'string' },
      'password-env': { type: 'string' },
      'git-user': { type: 'string' },
      'token-env': { type: 'string' },
      'token-file': { type: 'string' },
      'create-repos': { type: 'string' },
      'host-api-url': { type: 'string' },
      agent: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      'dry-run': { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  if (parsed.positionals.length > 0) {
    throw new UserError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`, `run ${selfCommand()} init --server --help`, 2);
  }
  const given = validateLayer(
    Object.fromEntries(
      Object.entries({
        remote: v.remote,
        lettaUrl: v['letta-url'],
        serverMode: v.mode,
        lettaUserId: v['letta-user'],
        lettaPasswordEnv: v['password-env'],
        gitUsername: v['git-user'],
        gitTokenEnv: v['token-env'],
        gitTokenFile: v['token-file'],
        createRepos: v['create-repos'],
        hostApiUrl: v['host-api-url'],
      }).filter(([, x]) => x !== undefined),
    ),
    'command-line flags',
  );
  const rootGiven = v['memfs-root'] ?? process.env.LETTA_MEMFS_ROOT ?? (await defaultMemfsRoot())?.root;
  if (!rootGiven) throw new UserError('no memfs root given, and ~/.letta/memfs does not exist', 'pass --memfs-root /path/to/.letta/memfs (or set LETTA_MEMFS_ROOT)', 2);
  const { memfsRoot } = validateLayer({ memfsRoot: rootGiven }, 'command-line flags') as { memfsRoot: string };
  // A wrong root fails here, before anything is written. One without repository/ is a server where Letta made no
  // agent yet: the settings are recorded and watch sets agents up as they appear.
  if (!(await stat(memfsRoot).then((st) => st.isDirectory(), () => false))) {
    throw new UserError(`${path.resolve(memfsRoot)} does not exist`, 'pass the Letta memfs root with --memfs-root: ~/.letta/memfs of the user Letta runs as (/root/.letta/memfs in the letta/letta image)');
  }
  const { noRepositoryYet } = await discoverAgents(memfsRoot);
  // Flags given now are remembered (no secrets: only env var and file names), so `watch` needs no flags.
  if (v.config) checkConfigFileName(v.config);
  const file = v.config ?? serverConfigFile(memfsRoot);
  const ctx = await loadServerContext({ memfsRoot, configFile: (await exists(file)) ? file : undefined });
  const saved = ((await readDataFile(file)) ?? {}) as Record<string, unknown>;
  let config: Config = mergeLayers([ctx.config, given, { memfsRoot }]);
  checkServerConfig(config);
  // The server reads the token file at each fetch; one that can never hold a token (a FIFO, a directory, a huge
  // file) is refused now rather than at every pull. A file still to be written is left to then.
  if (config.gitTokenFile && fsSync.existsSync(config.gitTokenFile)) readTokenFile(config.gitTokenFile);
  const savedMode = (validateLayer({ serverMode: saved.serverMode }, file) as Partial<Config>).serverMode;
  const envMode = envLayer(process.env).serverMode;
  const asked = given.serverMode || envMode || savedMode || v['dry-run'] ? undefined : await inspectLetta({ ...lettaOptionsFromConfig(config), retries: 0 });
  const mode = chooseMode(given.serverMode, savedMode, asked, envMode);
  if (v['dry-run']) return printServerPlan(config, v.agent, file, mode, v.json);
  const merged = { ...saved, ...given, memfsRoot, ...(mode.mode ? { serverMode: mode.mode } : {}) };
  config = mergeLayers([config, mode.mode ? { serverMode: mode.mode } : {}]);
  const result = await withProgress('setting up agent repos', (onDone) => setupServer({ config, agents: v.agent?.length ? v.agent : 'all', onAgentDone: onDone }));
  await writeJsonAtomic(file, merged);
  await rememberMemfsRoot(result.memfsRoot);
  if (v.json) {
    printJson({ ...result, configFile: file, serverMode: config.serverMode, serverModeWhy: mode.why });
  } else {
    for (const s of result.skipped) process.stdout.write(`skipped ${s.path}: ${s.reason}\n`);
    if (noRepositoryYet) process.stdout.write(`${noAgentsYetLine(noRepositoryYet)}\n`);
    process.stdout.write(
      `set up ${result.agents.length} agent repo(s) under ${result.memfsRoot} in ${result.elapsedMs} ms; settings in ${file}\n` +
        (config.createRepos ? `created ${result.agents.filter((a) => a.hostRepo === 'created').length} missing repo(s) on the host (${config.createRepos})\n` : '') +
        `server mode ${config.serverMode} (${mode.why})\n` +
        `next: keep '${selfCommand()} watch --memfs-root ${result.memfsRoot}' running (it sets up agents created later; the source repository's deploy/ has a systemd unit and compose files)\n`,
    );
  }
  return 0;
}
