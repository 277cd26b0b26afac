import { formatError, UserError } from '../../core/errors.js';
import { logLine } from '../../core/log.js';
import { EXIT } from '../exit-codes.js';
import { selfCommand } from '../../core/self-command.js';
import { resolveRepo } from '../../git/git.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import { type LocalPullOutcome, pullLocal } from '../../client/local-sync.js';
import { printJson } from '../json.js';

export function summarizeLocal(o: LocalPullOutcome): string {
  const parts = o.steps.length > 0 ? [o.steps.join('+')] : o.deferred || o.refused || o.waiting ? [] : ['up to date'];
  if (o.conflict) parts.push(`CONFLICT in ${o.conflict.paths.join(', ')}: the host's version is on main, this checkout's side kept in ${o.conflict.ref}`);
  if (o.deferred) parts.push(`not merged: ${o.deferred.cause}`);
  if (o.waiting) parts.push(`not merged yet: ${o.waiting}`);
  if (o.refused) parts.push(`REFUSED: main was not moved (${o.refused.by} rejects the merge; see below)`);
  return `${o.agentId}: ${parts.join('; ')}`;
}

/**
 * `pull` without --agent/--all: a local-backend checkout's round. Undefined when the directory is not a client
 * checkout of ours and no --repo was given, so the server form's usage error applies.
 */
export async function runLocalPull(dir: string, json: boolean, explicit: boolean, dryRun = false): Promise<number | undefined> {
  const repo = await resolveRepo({ cwd: dir }).catch((err) => {
    if (explicit) throw err;
    return undefined;
  });
  const settings = repo ? await readSettings(stateDirOf(repo.commonDir)) : undefined;
  if (!repo || !settings || settings.role !== 'client') {
    if (!explicit) return undefined;
    throw new UserError(`${dir} is not a checkout set up by letta-memfs-hooks init`, `run ${selfCommand()} init there first`);
  }
  if (settings.backend !== 'local') {
    throw new UserError(
      'pull is for local-backend checkouts: here Letta Code pulls and pushes through the redirected origin itself',
      'run git pull (or letta memory pull) in this checkout',
      2,
    );
  }
  if (dryRun) {
    const { describeLocalPull } = await import('../../client/local-pull-plan.js');
    const plan = await describeLocalPull(repo, settings.agentId);
    if (json) printJson({ dryRun: true, agents: [plan] });
    else process.stdout.write(`dry run: nothing is fetched, merged, moved or pushed\n${plan}\n`);
    return EXIT.ok;
  }
  const o = await pullLocal(repo, settings);
  if (json) printJson(o);
  else process.stdout.write(summarizeLocal(o) + '\n');
  if (o.refusedLine) {
    logLine(formatError(new UserError(o.refusedLine.reason, o.refusedLine.fix)));
    return EXIT.failed;
  }
  if (o.deferred) {
    // A round that cannot merge is a failure every time, with its cause and fix (a cron job must not see success).
    process.stderr.write(`letta-memfs-hooks: ${formatError(new UserError(`${o.agentId}: not merged: ${o.deferred.cause}`, o.deferred.fix))}\n`);
    return EXIT.failed;
  }
  return o.conflict ? EXIT.conflict : EXIT.ok;
}
