import fs from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { resolveRepo } from '../../core/git.js';
import { stateDirOf } from '../../core/settings.js';
import { parseCommandArgs } from '../args.js';
import { runServerRole } from '../server/role.js';

const HELP = `usage: letta-memfs-hooks uninstall [--repo DIR]
       letta-memfs-hooks uninstall --server [options]   (server role: every agent repo under a memfs root)

Puts back every hook file and git config key as it was before init (byte for byte when nobody edited the config
since), deletes the stored token, and removes .git/letta-memfs/.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('uninstall', argv);
  const parsed = parseCommandArgs(argv, { repo: { type: 'string' } } as const, HELP);
  if (!parsed) return 0;
  const dir = parsed.values.repo ?? process.cwd();
  const isDir = await fs.stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UserError(`${dir} does not exist`, 'pass the checkout with --repo <dir>');
  const repo = await resolveRepo({ cwd: dir });
  const { uninstall } = await import('../../install/installer.js');
  const report = await uninstall(repo);
  // The token never outlives the setup; uninstall() keeps the state dir when it had to leave replaced hooks alone.
  await fs.rm(path.join(stateDirOf(repo.commonDir), 'http-auth.gitconfig'), { force: true });
  const parts = [
    report.restoredHooks.length ? `restored ${report.restoredHooks.join(', ')}` : '',
    report.removedHooks.length ? `removed ${report.removedHooks.join(', ')}` : '',
    report.configRestoredExactly ? 'config restored byte for byte' : 'config keys restored one by one (the file was edited since init)',
  ].filter(Boolean);
  process.stdout.write(`uninstalled from ${repo.workTree ?? repo.gitDir}: ${parts.join('; ')}\n`);
  return 0;
}
