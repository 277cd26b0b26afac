import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { UserError } from '../../core/errors.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { JSON_FLAG, printJson } from '../json.js';
import { initAll } from './init-all.js';
import { runServerRole } from '../server/role.js';

const HELP = `usage: letta-memfs-hooks init [options]            (client: in an agent memory checkout)
       letta-memfs-hooks init --server [options]   (server: every agent repo under a Letta memfs root)

Client: redirects the checkout's Letta origin (<letta>/v1/git/<agentId>/state.git) to your git host with
url.<remote>.insteadOf, keeps the Letta API key away from that host, and installs pre-push, post-merge and
post-checkout hooks. In a Letta Code local-backend checkout (~/.letta/lc-local-backend/memfs/<agentId>/memory) it
adds origin = the remote instead, and a reference-transaction hook too. Re-running it is safe (and refreshes the
stored token).

  --remote URL         external git URL, {agentId} is replaced (env LETTA_MEMFS_GIT_URL)
  --agent ID           agent id when neither origin nor git config letta.agentId names it; outside a checkout,
                       the agent's checkout in Letta Code's place, cloned from the host when it does not exist
  --repo DIR           the checkout (default: current directory)
  --letta-url URL      Letta base URL whose /v1/git/ origin is redirected (env LETTA_BASE_URL)
  --git-user NAME      user name sent with the token (default git)
  --token-env VAR      env var holding the host token (default LETTA_MEMFS_GIT_TOKEN)
  --token-file FILE    chmod 600 file holding the token, used when the env var is unset
  --poke-url URL       the server's watch endpoint; pushes to main poke it, signed with $LETTA_MEMFS_WEBHOOK_SECRET
                       (env LETTA_MEMFS_POKE_URL)
  --create-repos KIND  create the agent's repo on the host when it is missing (private), through the host's API:
                       github (user or org), gitea (Gitea/Forgejo user or org) or gitlab (namespace); the token
                       needs the scope to create repos (env LETTA_MEMFS_CREATE_REPOS; config createRepos)
  --host-api-url URL   that API's base when it is not derived from the remote (https://api.github.com,
                       <host>/api/v3, <host>/api/v1, <host>/api/v4)
  --config FILE        config file instead of the repo's letta-memfs-hooks config
  --local              no git host yet: each agent's remote is a local bare repo, ~/.letta/memfs-remote/<agentId>.git
                       (created on demand; on a terminal with no remote configured, init offers this)
  --all                every checkout under ~/.letta/agents/*/memory and ~/.letta/lc-local-backend/memfs/*/memory
                       (and $LETTA_LOCAL_BACKEND_DIR/memfs) with the same remote template; re-run it to pick up
                       agents created since (it reuses the template the set-up checkouts recorded). Agents with no
                       checkout here yet are cloned from the host: local-backend agents Letta Code lists on this
                       machine, and, with --create-repos, every agent repo under the template's owner on the host
  --dry-run            print the git config and hooks init would write; change nothing
  --json               print the result as one JSON document (--all: every checkout's, and the counts)
  --no-verify          do not check that the remote is reachable with the token
  -y, --yes            never prompt; fail on missing values
  --server             set up the server role instead (see init --server --help)

Without --remote, a re-run reuses the remote this checkout recorded.
`;

const OPTIONS = {
  remote: { type: 'string' },
  agent: { type: 'string' },
  repo: { type: 'string' },
  'letta-url': { type: 'string' },
  'git-user': { type: 'string' },
  'token-env': { type: 'string' },
  'token-file': { type: 'string' },
  'poke-url': { type: 'string' },
  'create-repos': { type: 'string' },
  'host-api-url': { type: 'string' },
  config: { type: 'string' },
  'no-verify': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  server: { type: 'boolean' },
  local: { type: 'boolean' },
  all: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  ...JSON_FLAG,
} as const;

/** The checkout: the current directory, or, with --agent outside any checkout, where Letta Code keeps that agent's (cloned there when missing). */
async function defaultRepoDir(agent: string | undefined): Promise<string> {
  const cwd = process.cwd();
  if (!agent || fs.existsSync(path.join(cwd, '.git'))) return cwd;
  const { checkoutDirFor } = await import('../../client/first-checkout.js');
  return checkoutDirFor(agent);
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('init', argv);
  const parsed = parseCommandArgs(argv, OPTIONS, HELP);
  if (!parsed) return EXIT.ok;
  const v = parsed.values;
  noPositionals(parsed.positionals, HELP, 'pass the checkout with --repo <dir>');
  if (v.local && v.remote) throw new UserError('--local and --remote both name the remote', 'pass one of them', EXIT.usage);
  if (v.all && (v.repo || v.agent)) throw new UserError('--all sets up every checkout it finds', 'drop --repo/--agent, or drop --all', EXIT.usage);
  const { initClient, describeInit } = await import('../../client/init-client.js');
  const options = (repoDir: string, fallbackRemote?: string) => ({
    repoDir,
    agent: v.agent,
    configFile: v.config,
    flags: { remote: v.remote, lettaUrl: v['letta-url'], gitUsername: v['git-user'], gitTokenEnv: v['token-env'], gitTokenFile: v['token-file'], pokeUrl: v['poke-url'], createRepos: v['create-repos'] as Config['createRepos'], hostApiUrl: v['host-api-url'] },
    yes: Boolean(v.yes) || Boolean(v.all),
    verify: !v['no-verify'],
    local: v.local,
    dryRun: v['dry-run'],
    fallbackRemote,
  });
  if (v.all) {
    const { agentsToClone } = await import('../../client/new-checkouts.js');
    const o = options('');
    return initAll(v['dry-run'], (dir, fallback) => initClient(options(dir, fallback)), v.json, (have, fallback) => agentsToClone(have, { ...o, fallbackRemote: fallback }));
  }
  const result = await initClient(options(v.repo ?? (await defaultRepoDir(v.agent))));
  if (v.json) {
    const { initResultJson } = await import('../../client/describe-plan.js');
    printJson(initResultJson(result));
  } else if (result.planned) {
    const { describeInitPlan } = await import('../../client/describe-plan.js');
    process.stdout.write(describeInitPlan(result) + '\n');
  } else {
    process.stdout.write(describeInit(result) + '\n');
  }
  return EXIT.ok;
}
