import { parseCommandArgs } from '../args.js';
import { formatError } from '../../core/errors.js';
import { uninstall } from '../../install/installer.js';
import { loadServerContext } from '../../server/setup/context.js';
import { agentsFromFlags } from '../../server/setup/select.js';

const HELP = `usage: letta-memfs-hooks uninstall --server (--agent <id>... | --all) [--memfs-root <dir>] [--config <file>]

Removes our hooks and config from each agent's repo.git, restoring what was there before init --server. Stop
'letta-memfs-hooks watch' first, or it sets the agents up again.

  --agent <id>        an agent (repeatable)
  --all               every agent repo under the memfs root
  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file`;

/** `uninstall --server`: the installer's uninstall for each selected agent; one failure does not stop the others. */
export async function uninstallServer(opts: { argv: string[] }): Promise<number> {
  const parsed = parseCommandArgs(
    opts.argv,
    { agent: { type: 'string', multiple: true }, all: { type: 'boolean' }, 'memfs-root': { type: 'string' }, config: { type: 'string' } },
    HELP,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const repos = await agentsFromFlags(ctx, v.agent, v.all, 'uninstall --server');
  let failed = 0;
  for (const r of repos) {
    try {
      // The repo.git path is known: no git call on it first, which would fail on a broken included config (as an
      // older init wrote for a remote with a newline) and leave uninstall unable to repair it.
      await uninstall({ gitDir: r.gitDir, commonDir: r.gitDir });
      process.stdout.write(`${r.agentId}: restored\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`letta-memfs-hooks: ${r.agentId}: ${formatError(err)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}
