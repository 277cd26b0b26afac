import type { PullOutcome } from '../server/repo/pull.js';
import { selfCommand } from '../core/self-command.js';
import { EXIT } from './exit-codes.js';

/** A failure's text without a leading `<agentId>: ` (the line names the agent once) and always with a fix. */
function withFix(agentId: string, text: string, fix: string): string {
  const t = text.startsWith(`${agentId}: `) ? text.slice(agentId.length + 2) : text;
  return /\(fix: /.test(t) ? t : `${t} (fix: ${fix})`;
}

/** Pure: the failures of one pull, one line each, with the fix; empty when nothing failed. */
export function failureLines(o: PullOutcome): string[] {
  const out: string[] = [];
  if (o.error) out.push(`${o.agentId}: pull failed: ${withFix(o.agentId, o.error, `check the remote, network and token with ${selfCommand()} doctor, then pull again`)}`);
  if (o.sync?.action === 'failed') {
    out.push(`${o.agentId}: sync failed: ${withFix(o.agentId, o.sync.error ?? 'unknown error', 'letta-memfs-hooks sync --pending once Letta answers')}`);
  }
  return out;
}

/** Pure: one line for a pull: its failures, or what it did. Never "up to date" next to an error. */
export function summarize(o: PullOutcome): string {
  const failed = failureLines(o);
  if (failed.length > 0) return failed.join('\n');
  const parts = [o.steps.length > 0 ? o.steps.join('+') : 'up to date'];
  if (o.conflict) parts.push(`CONFLICT in ${o.conflict.paths.join(', ')}: server side kept in ${o.conflict.ref}`);
  if (o.sync && o.sync.action !== 'none') parts.push(o.sync.action === 'synced' ? `synced${o.sync.recompile ? ' (recompile)' : ''}` : o.sync.action);
  return `${o.agentId}: ${parts.join('; ')}`;
}

/** Exit status for a set of pulls: failures beat conflicts. */
export function pullExitCode(outcomes: readonly PullOutcome[]): number {
  if (outcomes.some((o) => failureLines(o).length > 0)) return EXIT.failed;
  if (outcomes.some((o) => o.conflict)) return EXIT.conflict;
  return EXIT.ok;
}
