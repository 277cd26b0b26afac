/**
 * Whether a local-backend checkout's consumer accepts a commit before `pull` makes it main (issue 24): Letta Code's
 * own checker when it wrote one into the checkout (letta-code-checker.ts), else our profile of the same rules
 * (src/validate, profile letta-code; test/oracle checks it against the real checker). Both judge the commit as
 * Letta Code judges its HEAD: the tree alone, with the commit as its own parent (so a `.memfs.config.json` or
 * readOnlyFiles change that the other machine committed is not held against it).
 */
import type { RepoPaths } from '../git/git.js';
import { ObjectReader } from '../git/objects.js';
import { formatProblem } from '../validate/problem.js';
import { MAX_FILE_BYTES, validateUpdate } from '../validate/tree.js';
import { auditWithChecker, type CheckerVerdict, findChecker, layoutOf } from './letta-code-checker.js';

export interface Audit {
  verdict: CheckerVerdict;
  /** Who judged, for messages. */
  by: string;
}

async function auditWithProfile(repo: RepoPaths, commit: string): Promise<CheckerVerdict> {
  const objects = new ObjectReader(MAX_FILE_BYTES, { gitDir: repo.commonDir });
  try {
    const tree = await objects.lsTree(commit);
    const problems = await validateUpdate({ tree, base: tree }, objects, { consumer: 'letta-code', layout: await layoutOf(repo, commit) });
    return problems.length ? { kind: 'rejected', problems: problems.map(formatProblem) } : { kind: 'accepted' };
  } catch (err) {
    return { kind: 'failed', reason: `the merge could not be checked: ${err instanceof Error ? err.message : String(err)}`, fix: 'run pull again; if it keeps failing, merge by hand (git merge origin/main)' };
  } finally {
    await objects.close();
  }
}

export async function auditBeforeMove(repo: RepoPaths, commit: string): Promise<Audit> {
  const checker = await findChecker(repo);
  if (checker === 'absent') return { by: "Letta Code's rules (no checker in this checkout yet)", verdict: await auditWithProfile(repo, commit) };
  if ('kind' in checker) return { by: "Letta Code's checker", verdict: checker };
  return { by: "Letta Code's checker", verdict: await auditWithChecker(repo, checker, commit) };
}
