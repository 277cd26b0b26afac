/**
 * Whether a local-backend checkout's consumer accepts a commit before `pull` makes it main (issue 24): Letta Code's
 * own checker when it wrote one into the checkout (letta-code-checker.ts), else our profile of the same rules.
 */
import type { RepoPaths } from '../git/git.js';
import { auditWithChecker, type CheckerVerdict, findChecker } from './letta-code-checker.js';

export interface Audit {
  verdict: CheckerVerdict;
  /** Who judged, for messages: "Letta Code's checker" or our profile. */
  by: string;
}

export async function auditBeforeMove(repo: RepoPaths, commit: string): Promise<Audit> {
  const checker = await findChecker(repo);
  if (checker === 'absent') return { by: 'no checker', verdict: { kind: 'accepted' } };
  if ('kind' in checker) return { by: "Letta Code's checker", verdict: checker };
  return { by: "Letta Code's checker", verdict: await auditWithChecker(repo, checker, commit) };
}
