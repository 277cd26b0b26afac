import { resolveRepo } from '../../git/git.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { repoDirFlag } from '../repo-dir.js';
import { runServerRole } from '../server/role.js';
import { printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks status [--repo DIR] [--json]
       letta-memfs-hooks status --server [options]   (server role: every agent repo under a memfs root)

Client checkout: agent id, external remote, whether origin is redirected, hooks, stored token, last push and pull.
Exits 1 when the checkout is not set up, origin is not redirected, or a local-backend checkout's pull refused a
merge its Letta Code checker rejects (REFUSED, with the fix); 3 when a local-backend checkout has a conflict ref
(refs/letta-memfs/conflicts/...) kept by pull.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('status', argv);
  const parsed = parseCommandArgs(argv, { repo: { type: 'string' }, json: { type: 'boolean' } } as const, HELP);
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP, 'pass the checkout with --repo <dir>');
  const { clientStatus, formatClientStatus } = await import('../../client/status.js');
  const repo = await resolveRepo({ cwd: await repoDirFlag(parsed.values.repo) });
  const s = await clientStatus(repo);
  if (parsed.values.json) printJson(s);
  else process.stdout.write(formatClientStatus(s) + '\n');
  if (!s.installed || !s.redirected || s.local?.refused) return EXIT.failed;
  return s.local && s.local.conflicts.length > 0 ? EXIT.conflict : EXIT.ok;
}
