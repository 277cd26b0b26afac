import { UserError } from '../../core/errors.js';
import { resolveRepo } from '../../core/git.js';
import { parseCommandArgs } from '../args.js';

const HELP = `usage: letta-memfs-hooks status [--repo DIR] [--json]
       letta-memfs-hooks status --server [options]   (server role: every agent repo under a memfs root)

Client checkout: agent id, external remote, whether origin is redirected, hooks, stored token, last push and pull.
Exits 1 when the checkout is not set up or origin is not redirected.
`;

/** The server role's status, written in src/server/status.ts; loaded only for --server. */
interface ServerStatus {
  serverStatus(opts: { argv: string[] }): Promise<number>;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) {
    const modPath = '../../server/status.js';
    const mod = (await import(modPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('server/status')) return undefined;
      throw err;
    })) as ServerStatus | undefined;
    if (!mod?.serverStatus) throw new UserError('this build has no server status', 'install a letta-memfs-hooks release with the server role');
    return mod.serverStatus({ argv: argv.filter((a) => a !== '--server') });
  }
  const parsed = parseCommandArgs(argv, { repo: { type: 'string' }, json: { type: 'boolean' } } as const, HELP);
  if (!parsed) return 0;
  const { clientStatus, formatClientStatus } = await import('../../client/status.js');
  const repo = await resolveRepo({ cwd: parsed.values.repo ?? process.cwd() });
  const s = await clientStatus(repo);
  process.stdout.write((parsed.values.json ? JSON.stringify(s, null, 2) : formatClientStatus(s)) + '\n');
  return s.installed && s.redirected ? 0 : 1;
}
