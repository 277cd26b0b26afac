/**
 * Differential test against the Letta server's own frontmatter reader (issue 16): generated memory files, YAML 1.1
 * scalars and every kind of `limit` included, go through our server-profile rules (checkFrontmatter, as the pre-push
 * of a server agent's checkout and `serve`'s pre-receive run them) and through `parse_block_markdown` of the
 * pip-installed letta 0.16.8, in one Python process (letta_server_frontmatter.py). Whatever we accept, the server
 * reads as we predict (value, description, limit, read_only, metadata, with their types); the rest we refuse with a fix.
 *
 * Seed: LMH_ORACLE_SEED (printed); count: LMH_ORACLE_FRONTMATTERS (default 2000).
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFrontmatter, parseFrontmatter } from '../../src/validate/frontmatter.js';
import { formatProblem } from '../../src/validate/problem.js';
import { mulberry32 } from '../helpers/prng.js';

const SEED = Number(process.env.LMH_ORACLE_SEED ?? Date.now() % 1_000_000);
const COUNT = Number(process.env.LMH_ORACLE_FRONTMATTERS ?? 2000);
const root = fileURLToPath(new URL('../../', import.meta.url));

type Typed = { t: string; v?: unknown };

/** Our value in the oracle's typed form (str/int/bool/null/list/dict; we accept nothing else). */
function typed(v: unknown): Typed {
  if (v === null) return { t: 'null' };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'number' && Number.isInteger(v)) return { t: 'int', v: String(v) };
  if (typeof v === 'string') return { t: 'str', v };
  if (Array.isArray(v)) return { t: 'list', v: v.map(typed) };
  if (typeof v === 'object') return { t: 'dict', v: Object.entries(v as object).map(([k, x]) => [typed(k), typed(x)]) };
  return { t: `unexpected ${typeof v}`, v: String(v) };
}

const SCALARS = [
  'plain text', 'yes', 'no', 'on', 'off', 'Yes', 'OFF', 'y', 'n', 'true', 'False', 'null', '~', '', '2024-01-01', '2024-1-1 10:00:00',
  '1:30', '1_000', '0x1F', '017', '0b101', '00', '0', '5000', '-3', '+7', '1.5', '.5', '1e5', '1.0e+5', '.inf', '.NaN', '=', '<<',
  '"quoted yes"', "'single ''q'''", '"esc \\t\\u00e9"', '"\\/slash"', 'a: b', 'a #comment', 'trailing ', '&a anchored', '*alias', '!!str 5',
  '!!binary aGk=', '[1, two]', '{a: 1}', '|\n  literal\n  block', '>\n  folded\n  block', 'multi\n  line plain', 'é ünicode 😀',
  '"2024-01-01"', '99999999999', '2147483648', '12345678901234567890', '- item', '@at', '`tick', '%pct', 'x: y: z', '? q', 'Null',
];
const KEYS = ['description', 'limit', 'read_only', 'metadata', 'name', 'yes', '"quoted"', 'Description'];

function generate(seed: number): string[] {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const lines: string[] = [];
    if (r() < 0.85) lines.push(`description: ${r() < 0.4 ? pick(['What this block is for', 'notes about tools', 'x']) : pick(SCALARS)}`);
    if (r() < 0.35) lines.push(`limit: ${pick(SCALARS.concat(['5000', '20000', '1', '0', '-1', '2147483647']))}`);
    if (r() < 0.25) lines.push(`read_only: ${pick(['true', 'false', 'yes', 'no', 'on', 'Off', 'y', '1', '"true"', 'null'])}`);
    if (r() < 0.2) lines.push(r() < 0.5 ? `metadata:\n  ${pick(['a', 'key', 'yes', '1'])}: ${pick(SCALARS)}\n  b: ${pick(SCALARS)}` : `metadata: ${pick(['{}', '{a: 1}', '[1]', 'x', '{a: 2024-01-01}', '{b: [yes, 2]}', 'null'])}`);
    if (r() < 0.08) lines.push(`${pick(KEYS)}: ${pick(SCALARS)}`);
    if (r() < 0.05) lines.push(pick(['# a comment', '', '  indented: x', '\tdescription: tab', '---x', '...']));
    const r2 = r();
    for (let k = lines.length - 1; k > 0 && r2 < 0.3; k--) {
      const j = Math.floor(r() * (k + 1));
      [lines[k], lines[j]] = [lines[j], lines[k]];
    }
    const nl = r() < 0.08 ? pick(['\r\n', '\r']) : '\n';
    const bodyText = pick(['Body text.\n', '', 'line one\nline two', '---\nnot frontmatter\n', 'with\r\ncrlf']);
    const open = r() < 0.03 ? pick(['\ufeff---', '--- ', '---x']) : '---';
    const close = r() < 0.03 ? pick(['', '--- ', '----']) : '---';
    out.push([open, ...lines, close].join(nl) + nl + bodyText);
  }
  return out;
}

async function serverReads(python: string, files: string[]): Promise<Array<{ id: number; fields?: Record<string, Typed>; decode_error?: boolean }>> {
  const child = spawn(python, [path.join(root, 'test/oracle/letta_server_frontmatter.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  child.stdin.end(files.map((f, id) => JSON.stringify({ id, b64: Buffer.from(f).toString('base64') })).join('\n') + '\n');
  const code = await done;
  if (code !== 0) throw new Error(`the server's reader exited ${code}: ${err.slice(-1500)}`);
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

describe("Letta server 0.16.8's frontmatter reader (parse_block_markdown, PyYAML safe_load)", () => {
  let python: string;
  beforeAll(() => {
    const v = spawnSync('bash', [path.join(root, 'scripts/e2e/letta-venv.sh'), '0.16.8'], { encoding: 'utf8', timeout: 1_800_000 });
    if (v.status !== 0) throw new Error(`no letta 0.16.8 venv: ${v.stderr}`);
    python = path.join(v.stdout.trim().split('\n').pop()!, 'bin', 'python');
    process.stdout.write(`letta-server-frontmatter oracle: seed ${SEED} (replay with LMH_ORACLE_SEED=${SEED}), ${COUNT} files\n`);
  }, 1_800_000);

  it(`stores what we predict for every frontmatter we accept, and we refuse the rest with a fix (${COUNT} generated)`, async () => {
    const files = generate(SEED);
    const started = Date.now();
    const theirs = await serverReads(python, files);
    const ms = Date.now() - started;
    expect(theirs).toHaveLength(files.length);
    let accepted = 0;
    const wrong: string[] = [];
    files.forEach((text, i) => {
      const problems = checkFrontmatter('reference/block.md', text, undefined);
      for (const p of problems) expect(formatProblem(p)).toMatch(/\(fix: .+\)$/);
      if (problems.length) return;
      accepted++;
      const fm = parseFrontmatter(text);
      const t = text.replace(/\r\n?/g, '\n');
      const predicted: Record<string, Typed> = { value: { t: 'str', v: t.slice(t.indexOf('\n---\n', 4) + 5) } };
      if (fm.ok) for (const k of ['description', 'limit', 'read_only', 'metadata']) if (k in fm.data) predicted[k] = typed(fm.data[k]);
      const got = theirs[i].fields;
      if (JSON.stringify(got) !== JSON.stringify(predicted)) wrong.push(`file ${i} ${JSON.stringify(text)}\n  server: ${JSON.stringify(got)}\n  ours:   ${JSON.stringify(predicted)}`);
    });
    process.stdout.write(`letta-server-frontmatter oracle: ${files.length} files, ${accepted} accepted, server read them in ${ms} ms\n`);
    expect(wrong.slice(0, 8).join('\n')).toBe('');
    expect(accepted).toBeGreaterThan(files.length * 0.1);
    expect(accepted).toBeLessThan(files.length * 0.9);
  }, 1_800_000);
});
