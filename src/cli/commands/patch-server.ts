import { parseCommandArgs } from '../args.js';
import { JSON_FLAG, printJson } from '../json.js';
import { UserError } from '../../core/errors.js';
import { applyServerTree, type CheckReport, checkServerTree, type PatchStatus } from '../../patch-server/apply.js';
import { selfCommand } from '../../core/self-command.js';

const HELP = `usage: letta-memfs-hooks patch-server --check <dir> [--json]
       letta-memfs-hooks patch-server --apply <dir> [--json]

<dir> is a site-packages directory or a letta source checkout: the directory that contains letta/.

  --check <dir>   report, per patch, whether it is applied, applicable or in conflict (exit 1 on a conflict)
  --apply <dir>   apply every patch not yet applied, all or nothing (a second run is a no-op)
  --json          print the result as one JSON document (the Letta tree, each patch's state; --apply: appliedNow)

The patches are in the package's patches/ directory; see patches/README.md.`;

function line(s: PatchStatus): string {
  const detail = s.state === 'conflict' && s.detail ? ` (${s.detail})` : '';
  return `  ${s.state.padEnd(10)} ${s.patch.file}: ${s.patch.summary}${detail}`;
}

/** Pure: a check or apply report as --json prints it. */
function reportJson(r: CheckReport, appliedNow?: readonly { file: string }[]) {
  return {
    letta: r.tree,
    patches: r.statuses.map((s) => ({ file: s.patch.file, summary: s.patch.summary, state: s.state, ...(s.detail ? { detail: s.detail } : {}) })),
    ...(appliedNow ? { appliedNow: appliedNow.map((p) => p.file) } : {}),
  };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { check: { type: 'string' }, apply: { type: 'string' }, ...JSON_FLAG }, HELP);
  if (!parsed) return 0;
  const { check, apply } = parsed.values;
  if ((check === undefined) === (apply === undefined) || parsed.positionals.length > 0) {
    throw new UserError('patch-server needs exactly one of --check <dir> or --apply <dir>', `run ${selfCommand()} patch-server --help`, 2);
  }

  if (check !== undefined) {
    const report = await checkServerTree(check);
    const conflicts = report.statuses.filter((s) => s.state === 'conflict').length;
    if (parsed.values.json) {
      printJson(reportJson(report));
      return conflicts > 0 ? 1 : 0;
    }
    process.stdout.write(`letta ${report.tree.version} in ${report.tree.root} (version from ${report.tree.versionSource})\n`);
    for (const s of report.statuses) process.stdout.write(line(s) + '\n');
    const pending = report.statuses.filter((s) => s.state === 'applicable').length;
    process.stdout.write(
      conflicts > 0
        ? `${conflicts} patch(es) do not apply: --apply would change nothing\n`
        : pending > 0
          ? `${pending} patch(es) to apply: run ${selfCommand()} patch-server --apply ${report.tree.root}\n`
          : 'all patches applied\n',
    );
    return conflicts > 0 ? 1 : 0;
  }

  const report = await applyServerTree(apply as string);
  if (parsed.values.json) {
    printJson(reportJson(report, report.appliedNow));
    return 0;
  }
  process.stdout.write(`letta ${report.tree.version} in ${report.tree.root}\n`);
  for (const s of report.statuses) process.stdout.write(line(s) + '\n');
  process.stdout.write(
    report.appliedNow.length > 0
      ? `applied ${report.appliedNow.length} patch(es); restart the Letta server to load them\n`
      : 'nothing to do: all patches were already applied\n',
  );
  return 0;
}
