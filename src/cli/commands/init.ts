import { UserError } from '../../core/errors.js';
import { parseCommandArgs } from '../args.js';
import { runServerRole } from '../server/role.js';

const HELP = `usage: letta-memfs-hooks init [options]            (client: in an agent memory checkout)
       letta-memfs-hooks init --server [options]   (server: every agent repo under a Letta memfs root)

Client: redirects the checkout's Letta origin (<letta>/v1/git/<agentId>/state.git) to your git host with
url.<remote>.insteadOf, keeps the Letta API key away from that host, and installs pre-push, post-merge and
post-checkout hooks. Re-running it is safe (and refreshes the stored token).

  --remote URL         external git URL, {agentId} is replaced (env LETTA_MEMFS_GIT_URL)
  --agent ID           agent id when neither origin nor git config letta.agentId names it
  --repo DIR           the checkout (default: current directory)
  --letta-url URL      Letta base URL whose /v1/git/ origin is redirected (env LETTA_BASE_URL)
  --git-user NAME      user name sent with the token (default git)
  --token-env VAR      env var holding the host token (default LETTA_MEMFS_GIT_TOKEN)
  --token-file FILE    chmod 600 file holding the token, used when the env var is unset
  --poke-url URL       the server's watch endpoint; pushes to main poke it, signed with $LETTA_MEMFS_WEBHOOK_SECRET
                       (env LETTA_MEMFS_POKE_URL)
  --config FILE        config file instead of the repo's letta-memfs-hooks config
  --no-verify          do not check that the remote is reachable with the token
  -y, --yes            never prompt; fail on missing values
  --server             set up the server role instead (see init --server --help)
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
  config: { type: 'string' },
  'no-verify': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  server: { type: 'boolean' },
} as const;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('init', argv);
  const parsed = parseCommandArgs(argv, OPTIONS, HELP);
  if (!parsed) return 0;
  const v = parsed.values;
  if (parsed.positionals.length > 0) {
    throw new UserError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`, 'pass the checkout with --repo <dir>', 2);
  }
  const { initClient, describeInit } = await import('../../client/init-client.js');
  const result = await initClient({
    repoDir: v.repo ?? process.cwd(),
    agent: v.agent,
    configFile: v.config,
    flags: { remote: v.remote, lettaUrl: v['letta-url'], gitUsername: v['git-user'], gitTokenEnv: v['token-env'], gitTokenFile: v['token-file'], pokeUrl: v['poke-url'] },
    yes: Boolean(v.yes),
    verify: !v['no-verify'],
  });
  process.stdout.write(describeInit(result) + '\n');
  return 0;
}
