/** What every validation returns: one problem per file, with the fix; printed as one line. */
import { escapePath, printable } from './text.js';

export interface Problem {
  /** The repo path as decoded from git (raw: may hold control characters; print it with formatProblem only). */
  path: string;
  message: string;
  fix: string;
}

/** One line, the path escaped and any repo content quoted in the message made printable. */
export function formatProblem(p: Problem): string {
  return `${escapePath(p.path)}: ${printable(p.message)} (fix: ${printable(p.fix)})`;
}
