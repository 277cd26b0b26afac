/**
 * A merge (or fast-forward) that `pull` did not move onto a local-backend checkout's main because the checkout's
 * consumer rejects the result (merge-audit.ts): its record for `status`, the ref that keeps it, and its wording.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { git, type RepoPaths } from '../git/git.js';
import { MAIN } from '../git/refs.js';
import { readJson, stateDirOf, writeJsonAtomic } from '../core/settings.js';

/** The refused candidate: a merge whose parents are both sides, or the host's main for a fast-forward. */
export const REFUSED_REF = 'refs/letta-memfs/refused';
const recordFile = (repo: RepoPaths) => path.join(stateDirOf(repo.commonDir), 'refused.json');

export interface Refusal {
  at: string;
  /** Who rejected it: "Letta Code's checker" or our profile. */
  by: string;
  candidate: string;
  ref: string;
  /** main and the host's main when it was refused. */
  sides: [string, string];
  problems: string[];
  /** The host changed `.memfs.config.json`: Letta Code's pre-commit wants LETTA_MEMORY_CONSTRAINTS_UPDATE=1 for it. */
  configChanged: boolean;
  /** When the check itself could not run: its own fix. */
  fix?: string;
}

// Our own profile's problems (validate/problem.ts formatProblem) end with their fix.
const OWN_FIX = /^(.*) \(fix: (.*)\)$/s;

/** What to change for one problem line of Letta Code's checker (letta-memory-constraints.cjs, 0.32.18 - 0.34.12). */
export function fixForProblem(problem: string): string {
  let m = OWN_FIX.exec(problem);
  if (m) return m[2];
  m = /^(.+): missing required index (.+)$/.exec(problem);
  if (m) return `add ${m[2]} (an index without frontmatter) or remove ${m[1]}`;
  m = /^core memory: (\d+) characters exceeds (\d+) from maxCoreMemoryCharacters$/.exec(problem);
  if (m) return `move detail out of the root .md files (behind a child folder with its own MEMORY.md) until core memory is at most ${m[2]} characters`;
  m = /^(.+): (\d+) characters exceeds (\d+) from (.+)$/.exec(problem);
  if (m) return `shorten or split ${m[1]} to at most ${m[3]} characters (${m[4]})`;
  m = /^(.+): depth (\d+) exceeds maxDepth (\d+)$/.exec(problem);
  if (m) return `move ${m[1]} to at most ${m[3]} folders deep`;
  if (/^MEMORY\.md: root memory index is required/.test(problem)) return 'add a root MEMORY.md (an index without frontmatter)';
  return `fix ${problem}`;
}

/** Pure: the fix for `pull` and `status`: each change, then how to make it in this checkout. */
export function refusalFix(r: Refusal, trackingRef: string): string {
  if (r.fix) return r.fix;
  const changes = [...new Set(r.problems.map(fixForProblem))];
  const approve = r.configChanged ? ' with LETTA_MEMORY_CONSTRAINTS_UPDATE=1 (the host changed .memfs.config.json)' : '';
  return `${changes.join('; ')}: here, git merge --no-commit ${trackingRef}, make the change, git commit${approve} (Letta Code's pre-commit checks it), then pull again`;
}

/** Pure: the one-line reason. */
export function refusalReason(r: Refusal): string {
  const what = r.problems.map((p) => OWN_FIX.exec(p)?.[1] ?? p);
  return `main was not moved: ${r.by} rejects the merge with the host's main ${r.sides[1].slice(0, 12)} (${what.join('; ')}); both sides are kept (main, ${r.ref})`;
}

export async function recordRefusal(repo: RepoPaths, cwd: string, r: Refusal): Promise<void> {
  await git(['update-ref', '-m', 'letta-memfs-hooks pull: refused merge', r.ref, r.candidate], { cwd });
  await writeJsonAtomic(recordFile(repo), r);
}

export async function readRefusal(repo: RepoPaths): Promise<Refusal | undefined> {
  return readJson<Refusal>(recordFile(repo)).catch(() => undefined);
}

/** Drops the record; the ref goes too once both sides are in main (else it keeps what only it still reaches). */
export async function clearRefusal(repo: RepoPaths, cwd: string): Promise<void> {
  const r = await readRefusal(repo);
  if (!r) return;
  let contained = true;
  for (const side of r.sides) {
    if ((await git(['merge-base', '--is-ancestor', side, MAIN], { cwd, allowFailure: true })).exitCode !== 0) contained = false;
  }
  if (contained) await git(['update-ref', '-d', r.ref, r.candidate], { cwd, allowFailure: true });
  await fs.rm(recordFile(repo), { force: true });
}
