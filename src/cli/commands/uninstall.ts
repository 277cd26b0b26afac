import fs from 'node:fs/promises';
import path from 'node:path';
import { resolveRepo } from '../../git/git.js';
import { stateDirOf } from '../../core/settings.js';
import { readManifest } from '../../install/manifest.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { JSON_FLAG, printJson } from '../json.js';
import { repoDirFlag } from '../repo-dir.js';
import { runServerRole } from '../server/role.js';

const HELP = `usage: letta-memfs-hooks uninstall [--repo DIR] [--dry-run] [--json]
       letta-memfs-hooks uninstall --server [options]   (server role: every agent repo under a memfs root)

Puts back every hook file and git config key as it was before init (byte for byte when nobody edited the config
since), deletes the stored token, and removes .git/letta-memfs/. Nothing set up: "nothing to uninstall", exit 0.

  --repo DIR   the checkout (default: current directory)
  --dry-run    print what would be restored and removed; change nothing
  --json       print the result as one JSON document
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('uninstall', argv);
  const parsed = parseCommandArgs(argv, { repo: { type: 'string' }, 'dry-run': { type: 'boolean' }, ...JSON_FLAG } as const, HELP);
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP, 'pass the checkout with --repo <dir>');
  const repo = await resolveRepo({ cwd: await repoDirFlag(parsed.values.repo) });
  const where = repo.workTree ?? repo.gitDir;
  const stateDir = stateDirOf(repo.commonDir);
  const manifest = await readManifest(stateDir);
  // Like `git config --unset` of an unset key in a script: the wanted end state already holds.
  const json = parsed.values.json;
  if (!manifest) {
    if (json) printJson({ checkout: where, setUp: false, changed: false });
    else process.stdout.write(`nothing to uninstall: letta-memfs-hooks is not set up in ${where}\n`);
    return EXIT.ok;
  }
  if (parsed.values['dry-run']) {
    const { planUninstall } = await import('../../install/uninstall-plan.js');
    const chained = new Set((await fs.readdir(path.join(stateDir, 'chained')).catch(() => [] as string[])));
    const plan = planUninstall(manifest, chained, stateDir);
    if (json) printJson({ checkout: where, setUp: true, dryRun: true, would: plan });
    else process.stdout.write(`dry run: uninstall from ${where} would\n${plan.map((l) => `  ${l}`).join('\n')}\n`);
    return EXIT.ok;
  }
  const { uninstall } = await import('../../install/installer.js');
  const report = await uninstall(repo);
  // The token never outlives the setup; uninstall() keeps the state dir when it had to leave replaced hooks alone.
  await fs.rm(path.join(stateDir, 'http-auth.gitconfig'), { force: true });
  const parts = [
    report.restoredHooks.length ? `restored ${report.restoredHooks.join(', ')}` : '',
    report.removedHooks.length ? `removed ${report.removedHooks.join(', ')}` : '',
    report.configRestoredExactly
      ? 'config restored byte for byte'
      : `the ${manifest.configChanges.length} config key(s) init set put back one by one (.git/config changed since init, e.g. by Letta Code; those changes are kept)`,
  ].filter(Boolean);
  if (json) {
    const { restoredHooks, removedHooks, configRestoredExactly } = report;
    printJson({ checkout: where, setUp: true, changed: true, restoredHooks, removedHooks, configRestoredExactly });
  } else process.stdout.write(`uninstalled from ${where}: ${parts.join('; ')}\n`);
  return EXIT.ok;
}
