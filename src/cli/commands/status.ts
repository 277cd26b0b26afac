import { resolveRepo } from '../../git/git.js';
import { UserError } from '../../core/errors.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { errorJson, JSON_FLAG, printJson } from '../json.js';
import { repoDirFlag } from '../repo-dir.js';
import { runServerRole } from '../server/role.js';

const HELP = `usage: letta-memfs-hooks status [--repo DIR] [--json]
       letta-memfs-hooks status --all [--json]        (every Letta Code memory checkout on this machine)
       letta-memfs-hooks status --server [options]   (server role: every agent repo under a memfs root)

Client checkout: agent id, external remote, whether origin is redirected, hooks, stored token, last push and pull.
Exits 1 when the checkout is not set up, origin is not redirected, or a local-backend checkout's pull refused a
merge its Letta Code checker rejects (REFUSED, with the fix); 3 when a local-backend checkout has a conflict ref
(refs/letta-memfs/conflicts/...) kept by pull.

  --repo DIR   the checkout (default: current directory)
  --all        every checkout init --all finds (~/.letta/agents/*/memory, ~/.letta/lc-local-backend/memfs/*/memory
               and $LETTA_LOCAL_BACKEND_DIR/memfs), one line each, those with a problem first; exit 1 when any
               has one (3 when the only problems are conflict refs)
  --json       print the result as one JSON document (--all: one object per checkout, with its problem and fix)
`;

/** `status --all`: each checkout's status; problems first, one line each with the fix. */
async function statusAll(json: boolean | undefined): Promise<number> {
  const [{ checkoutRoots, findCheckouts }, { clientStatus, statusProblem }] = await Promise.all([import('../../client/checkouts.js'), import('../../client/status.js')]);
  const checkouts = await findCheckouts();
  const rows = [];
  for (const c of checkouts) {
    try {
      const s = await clientStatus(await resolveRepo({ cwd: c.dir }));
      const p = statusProblem(s);
      rows.push({ agentId: c.agentId, checkout: c.dir, ok: !p, ...(p ?? {}), status: s });
    } catch (err) {
      const e = errorJson(err);
      rows.push({ agentId: c.agentId, checkout: c.dir, ok: false, problem: e.error, fix: e.fix ?? `${c.dir} is not a readable git checkout`, exitCode: EXIT.failed });
    }
  }
  rows.sort((a, b) => Number(a.ok) - Number(b.ok));
  const problems = rows.filter((r) => !r.ok);
  const code = problems.some((r) => r.exitCode === EXIT.failed) ? EXIT.failed : problems.length > 0 ? EXIT.conflict : EXIT.ok;
  if (json) {
    printJson({ checkouts: rows, problems: problems.length, ...(rows.length === 0 ? { roots: checkoutRoots() } : {}) });
    return code;
  }
  if (rows.length === 0) {
    process.stdout.write(`no Letta Code memory checkout yet (none under ${checkoutRoots().join(' or ')})\n`);
    return EXIT.ok;
  }
  for (const r of rows) {
    const s = 'status' in r ? r.status : undefined;
    const line = r.ok ? `ok: ${s?.local ? 'origin' : 'redirected to'} ${s?.remote ?? '?'}, last push ${s?.lastPush?.at ?? 'none seen'}` : `${r.problem} (fix: ${r.fix})`;
    process.stdout.write(`${r.agentId}: ${line}  [${r.checkout}]\n`);
  }
  process.stdout.write(`${rows.length} checkout(s), ${problems.length} with a problem\n`);
  return code;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--server')) return runServerRole('status', argv);
  const parsed = parseCommandArgs(argv, { repo: { type: 'string' }, all: { type: 'boolean' }, ...JSON_FLAG } as const, HELP);
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP, 'pass the checkout with --repo <dir>');
  const v = parsed.values;
  if (v.all && v.repo) throw new UserError('--all shows every checkout it finds', 'drop --repo, or drop --all', EXIT.usage);
  if (v.all) return statusAll(v.json);
  const { clientStatus, formatClientStatus, statusProblem } = await import('../../client/status.js');
  const repo = await resolveRepo({ cwd: await repoDirFlag(v.repo) });
  const s = await clientStatus(repo);
  if (v.json) printJson(s);
  else process.stdout.write(formatClientStatus(s) + '\n');
  return statusProblem(s)?.exitCode ?? EXIT.ok;
}
