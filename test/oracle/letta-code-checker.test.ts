/**
 * Differential test against Letta Code's own checks (issue 16): for generated trees in each layout, our pre-push
 * rules for a local-backend checkout (validateUpdate with the letta-code profile) refuse exactly what Letta Code
 * 0.34.12's pre-commit + letta-memory-constraints.cjs refuse, run as its checkout has them
 * (letta-code-checker.ts). Deliberate differences, kept out of the generator: our safety rules (names with control
 * characters or invalid UTF-8, symlinks, submodules, files over 5 MiB, non-UTF-8 or NUL in Markdown) refuse more; a
 * change to .memfs.config.json is judged as if approved (LETTA_MEMORY_CONSTRAINTS_UPDATE=1: approval is given at
 * commit time, which a push cannot see); names with spaces or non-ASCII characters are not generated because Letta
 * Code's legacy hook splits and quotes them (its bug: the file cannot be read and the commit fails).
 *
 * Seed: LMH_ORACLE_SEED (printed); trees per layout: LMH_ORACLE_TREES (default 1000).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TreeEntry } from '../../src/git/tree.js';
import { parseLayout } from '../../src/validate/letta-code-rules.js';
import { validateUpdate } from '../../src/validate/tree.js';
import { formatProblem } from '../../src/validate/problem.js';
import { lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { type CheckerCase, type Files, type Layout, LettaCodeChecker } from './letta-code-checker.js';
import { treeGenerator } from './tree-gen.js';

const SEED = Number(process.env.LMH_ORACLE_SEED ?? Date.now() % 1_000_000);
const TREES = Number(process.env.LMH_ORACLE_TREES ?? 1000);
const CROSS = 12;
const APPROVED = { LETTA_MEMORY_CONSTRAINTS_UPDATE: '1' };

function entries(files: Files, blobs: Map<string, Uint8Array>): TreeEntry[] {
  return Object.entries(files).map(([path, f]) => {
    const data = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
    const oid = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    blobs.set(oid, data);
    return { mode: f.mode ?? '100644', type: 'blob', oid, path };
  });
}

async function ours(c: CheckerCase, layout: Layout) {
  const blobs = new Map<string, Uint8Array>();
  const tree = entries(c.tree, blobs);
  const base = entries(c.parent, blobs);
  const reader = {
    sizes: async (oids: readonly string[]) => new Map(oids.filter((o) => blobs.has(o)).map((o) => [o, blobs.get(o)!.length])),
    read: async (oids: readonly string[]) => new Map(oids.filter((o) => blobs.has(o)).map((o) => [o, blobs.get(o)!])),
  };
  return validateUpdate({ tree, base }, reader, { consumer: 'letta-code', layout: parseLayout(layout) });
}

describe.each<Layout>(['root-marker', 'legacy-only', 'shared-memory'])('Letta Code 0.34.12 checker, %s layout', (layout) => {
  let checker: LettaCodeChecker;
  beforeAll(() => {
    process.stdout.write(`letta-code-checker oracle: seed ${SEED} (replay with LMH_ORACLE_SEED=${SEED}), ${TREES} trees per layout\n`);
    checker = LettaCodeChecker.open(lettaCodePypi('0.34.12'), layout);
  }, 600_000);
  afterAll(() => undefined);

  it(`agrees on ${TREES} generated trees, refusing with a file, rule and fix`, async () => {
    const next = treeGenerator(SEED + layout.length);
    const cases = Array.from({ length: TREES }, (_, i) => next(i));
    const started = Date.now();
    const theirs = await checker.judge(cases, APPROVED);
    const ms = Date.now() - started;
    let accepted = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const mine = await ours(cases[i], layout);
      if (theirs[i].ok) accepted++;
      if (theirs[i].ok !== (mine.length === 0)) {
        disagreements.push(`case ${i}: Letta Code ${theirs[i].ok ? 'accepts' : 'refuses'}, we ${mine.length ? 'refuse' : 'accept'}\n  tree: ${JSON.stringify(Object.fromEntries(Object.entries(cases[i].tree).map(([p, f]) => [p, String(f.content).slice(0, 120)])))}\n  parent: ${Object.keys(cases[i].parent).join(' ')}\n  theirs: ${theirs[i].output.split('\n').filter((l) => l.startsWith('  ')).join(' | ')}\n  ours: ${mine.map(formatProblem).join(' | ')}`);
      }
      for (const p of mine) expect(formatProblem(p)).toMatch(/^.+: .+ \(fix: .+\)$/);
    }
    process.stdout.write(`letta-code-checker oracle ${layout}: ${cases.length} trees, ${accepted} accepted by Letta Code, judged in ${ms} ms\n`);
    expect(disagreements.slice(0, 5).join('\n')).toBe('');
    // Both verdicts occur often: a generator that only made valid (or only broken) trees would prove little.
    expect(accepted).toBeGreaterThan(cases.length * 0.1);
    expect(accepted).toBeLessThan(cases.length * 0.9);
  }, 1_800_000);

  it('the in-process runner agrees with the unmodified hook run as git runs it', async () => {
    const next = treeGenerator(SEED + 7 + layout.length);
    const cases = Array.from({ length: CROSS }, (_, i) => next(i));
    const fast = await checker.judge(cases, APPROVED);
    const real = checker.crossCheck(cases, APPROVED);
    expect(fast.map((v) => v.ok)).toEqual(real.map((v) => v.ok));
  }, 600_000);
});
