import { UserError } from '../core/errors.js';

/**
 * Runs a server-role entry (`src/server/<file>.js`, export `name(opts: { argv })`) for `<command> --server`; the
 * server role parses its own options (memfs root, agents, ...), so it gets everything but --server. Loaded only then,
 * so the client commands pay nothing for it.
 */
export async function runServerRole(file: string, name: string, argv: string[], fix = 'install a letta-memfs-hooks release with the server role'): Promise<number> {
  const modPath = `../server/${file}.js`;
  const mod = (await import(modPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(`server/${file}`)) return undefined;
    throw err;
  })) as Record<string, unknown> | undefined;
  const entry = mod?.[name];
  if (typeof entry !== 'function') {
    throw new UserError(`this build has no ${name} for the server role`, fix);
  }
  return (entry as (opts: { argv: string[] }) => Promise<number>)({ argv: argv.filter((a) => a !== '--server') });
}
