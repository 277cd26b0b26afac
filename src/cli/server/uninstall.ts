import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AGENT_FLAGS, noPositionals, parseCommandArgs } from '../args.js';
import { formatError } from '../../core/errors.js';
import { readSmallFile } from '../../core/fs.js';
import { git } from '../../git/git.js';
import { stateDirOf } from '../../core/settings.js';
import { uninstall } from '../../install/installer.js';
import { readManifest } from '../../install/manifest.js';
import { planUninstall } from '../../install/uninstall-plan.js';
import { TRACKING_REF } from '../../git/remote-auth.js';
import { loadServerContext } from '../../server/setup/context.js';
import { agentsFromFlags } from '../../server/setup/select.js';
import { EXIT } from '../exit-codes.js';
import { errorJson, JSON_FLAG, printJson } from '../json.js';

const HELP = `usage: letta-memfs-hooks uninstall --server (--agent <id>... | --all) [--memfs-root <dir>] [--config <file>] [--json]

Removes our hooks and config from each agent's repo.git, restoring what was there before init --server, with the
remote-tracking ref and the sync and pull records (status then shows the agent as not set up). Conflict refs
(refs/letta-memfs/conflicts/) are kept: they hold the server's side of a conflict. Stop 'letta-memfs-hooks watch'
first, or it sets the agents up again.

  --agent <id>        an agent (repeatable)
  --all               every agent repo under the memfs root
  --memfs-root <dir>  the Letta memfs root (default: the one init --server recorded, else ~/.letta/memfs)
  --config <file>     config file
  --dry-run           print what would be removed; change nothing
  --json              print the result as one JSON array, one object per agent`;

/** Whether a ref may exist: a loose file or any mention in packed-refs (or a reftable store, not read here). */
function mayHaveRef(gitDir: string, ref: string): boolean {
  const has = (rel: string) => fsSync.existsSync(path.join(gitDir, rel));
  return has(ref) || has('reftable') || (readSmallFile(path.join(gitDir, 'packed-refs')) ?? '').includes(ref);
}

/** `uninstall --server`: the installer's uninstall for each selected agent; one failure does not stop the others. */
export async function uninstallServer(opts: { argv: string[] }): Promise<number> {
  const parsed = parseCommandArgs(
    opts.argv,
    { ...AGENT_FLAGS, 'dry-run': { type: 'boolean' }, ...JSON_FLAG },
    HELP,
  );
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const repos = await agentsFromFlags(ctx, v.agent, v.all, 'uninstall --server');
  let failed = 0;
  const rows: object[] = [];
  const say = (line: string) => {
    if (!v.json) process.stdout.write(line + '\n');
  };
  for (const r of repos) {
    try {
      const stateDir = stateDirOf(r.gitDir);
      const manifest = await readManifest(stateDir);
      if (!manifest) {
        rows.push({ agentId: r.agentId, setUp: false, changed: false });
        say(`${r.agentId}: nothing to uninstall`);
        continue;
      }
      if (v['dry-run']) {
        const chained = new Set(await fs.readdir(path.join(stateDir, 'chained')).catch(() => [] as string[]));
        const lines = [...planUninstall(manifest, chained, stateDir), `delete ${TRACKING_REF}`];
        rows.push({ agentId: r.agentId, setUp: true, dryRun: true, would: lines });
        say(`${r.agentId}: dry run, would\n${lines.map((l) => `  ${l}`).join('\n')}`);
        continue;
      }
      // The repo.git path is known: no git call on it first, which would fail on a broken included config (as an
      // older init wrote for a remote with a newline) and leave uninstall unable to repair it.
      await uninstall({ gitDir: r.gitDir, commonDir: r.gitDir });
      // What status reads as "pending" or "external main": without our setup they would describe nothing. A git
      // process only where the ref may be (a repo never pulled has none): `--all` over 10,000 agents.
      if (mayHaveRef(r.gitDir, TRACKING_REF)) await git(['update-ref', '-d', TRACKING_REF], { gitDir: r.gitDir, allowFailure: true });
      rows.push({ agentId: r.agentId, setUp: true, changed: true });
      say(`${r.agentId}: restored`);
    } catch (err) {
      failed++;
      rows.push({ agentId: r.agentId, ...errorJson(err) });
      process.stderr.write(`letta-memfs-hooks: ${r.agentId}: ${formatError(err)}\n`);
    }
  }
  if (v.json) printJson(rows);
  return failed > 0 ? EXIT.failed : EXIT.ok;
}
