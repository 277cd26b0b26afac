/**
 * Pure: Letta Code's own rules for a commit in a checkout it owns (a local-backend agent), so that we refuse exactly
 * what its hooks refuse. Read from what 0.34.12 writes into each checkout (`letta agents create --backend local`):
 * `.git/hooks/pre-commit` (layout choice, skill paths, the frontmatter validator in its heredoc) and
 * `.git/hooks/letta-memory-constraints.cjs` (indexes, depth, character limits, `.memfs.config.json`, readOnlyFiles).
 * test/oracle/letta-code-checker.test.ts runs both on generated trees and compares verdicts with these.
 *
 * A pushed tree is judged as a commit of it on top of the remote's tree would be. Two of the hook's checks are left
 * out on purpose: a change to `.memfs.config.json` needs LETTA_MEMORY_CONSTRAINTS_UPDATE=1 at commit time (a human's
 * approval we cannot see at push), and nothing that depends on the parent is checked when the remote's tree is
 * unknown (a first push).
 */
import type { Problem } from './problem.js';
import { escapePath } from './text.js';

/** `.git/letta-memory-layout-policy` (0.32.18+); a checkout without one is `legacy-only`, as the checker reads it. */
export type Layout = 'root-marker' | 'legacy-only' | 'shared-memory';

export function parseLayout(text: string | undefined): Layout {
  const t = (text ?? '').trim();
  return t === 'root-marker' || t === 'shared-memory' ? t : 'legacy-only';
}

export interface CodeFile {
  path: string;
  mode: string;
  oid: string;
}

export interface CodeTree {
  files: readonly CodeFile[];
  /** The remote's tree (the commit's parent), or undefined when unknown. */
  base: readonly CodeFile[] | undefined;
  /** Decoded text of every `.md` file of `files`, of the base's version of changed legacy memory files, and of the config. */
  text(oid: string): string | undefined;
}

export const CONFIG_PATH = '.memfs.config.json';

/** The checker's DEFAULT_CONFIG (0.34.12). */
const DEFAULTS: Config = { maxDepth: 2, maxFileCharacters: 20_000, maxCoreMemoryCharacters: 65_536, fileCharacterLimits: [], readOnlyFiles: [] };

interface Config {
  maxDepth?: number;
  maxFileCharacters?: number;
  maxCoreMemoryCharacters?: number;
  fileCharacterLimits: Array<{ pattern: string; maxCharacters: number | null }>;
  readOnlyFiles: string[];
}

const V2_KEYS = ['name', 'description'];
const LEGACY_KEYS = ['description', 'read_only', 'limit'];
const LEGACY_MEMORY = /^(memory\/)?(system|reference)\/.*\.md$/;

const problem = (path: string, message: string, fix: string): Problem => ({ path, message, fix });

/** Lines between the opening `---` and the first closing `---` line, or why there are none. */
function frontmatterLines(text: string): { lines: string[] } | { error: 'missing' | 'unclosed' } {
  const lines = text.split('\n');
  if (lines[0] !== '---') return { error: 'missing' };
  const close = lines.indexOf('---', 1);
  return close < 0 ? { error: 'unclosed' } : { lines: lines.slice(1, close) };
}

const trimSpaces = (s: string) => s.replace(/^ +| +$/g, '');

function frontmatterProblem(path: string, error: 'missing' | 'unclosed', keys: string[]): Problem {
  const shape = keys.map((k) => `${k}: ...`).join(', ');
  return error === 'missing'
    ? problem(path, `has no frontmatter; Letta Code needs it to start with a --- line`, `start the file with ---, then ${shape} lines, then ---`)
    : problem(path, 'opens its frontmatter with --- but never closes it', 'add a line with only --- after the frontmatter');
}

/** v2 layout: MEMORY.md indexes carry no frontmatter; every other memory Markdown file exactly `name` and `description`. */
function checkV2File(path: string, text: string): Problem[] {
  const shown = escapePath(path);
  if (path.split('/').at(-1) === 'MEMORY.md') {
    return text.split('\n')[0] === '---'
      ? [problem(path, 'is a MEMORY.md index, which Letta Code requires to have no frontmatter', `remove the --- block at the top of ${shown}`)]
      : [];
  }
  const fm = frontmatterLines(text);
  if ('error' in fm) return [frontmatterProblem(path, fm.error, V2_KEYS)];
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const line of fm.lines) {
    if (!line) continue;
    const sep = line.indexOf(':');
    const key = trimSpaces(sep < 0 ? line : line.slice(0, sep));
    const value = trimSpaces(sep < 0 ? line : line.slice(sep + 1));
    if (!V2_KEYS.includes(key)) {
      out.push(problem(path, `has frontmatter line "${key}" that Letta Code does not allow (only name and description)`, `remove that line from ${shown}; keep exactly "name: ..." and "description: ..." lines`));
      continue;
    }
    if (seen.has(key)) out.push(problem(path, `has "${key}" twice in its frontmatter`, `keep one "${key}:" line in ${shown}`));
    seen.add(key);
    if (!value || value === '""' || value === "''") out.push(problem(path, `has an empty ${key}`, `write a ${key} after "${key}:" in ${shown}`));
  }
  for (const key of V2_KEYS) {
    if (!seen.has(key)) out.push(problem(path, `has no ${key} in its frontmatter; Letta Code needs name and description`, `add a line "${key}: ..." inside the --- block of ${shown}`));
  }
  return out;
}

/** The trimmed values of the `key:` lines of a legacy frontmatter, joined by newlines ('' when none). */
function legacyValue(text: string, key: string): string {
  const fm = frontmatterLines(text);
  if ('error' in fm) return '';
  return fm.lines.filter((l) => l.startsWith(`${key}:`)).map((l) => trimSpaces(l.slice(key.length + 1))).join('\n');
}

/**
 * Legacy layout: system/ and reference/ files need `description`; `read_only` belongs to the user, not the agent.
 * `previous`: the base's text, undefined when the base has no such file, null when the base is unknown (then the
 * read_only rules, which compare with it, are not applied).
 */
function checkLegacyFile(path: string, text: string, previous: string | undefined | null): Problem[] {
  const shown = escapePath(path);
  const fm = frontmatterLines(text);
  if ('error' in fm) return [frontmatterProblem(path, fm.error, ['description'])];
  if (typeof previous === 'string' && legacyValue(previous, 'read_only') === 'true') {
    return [problem(path, 'is read_only, and Letta Code does not let the agent modify it', `restore it (git checkout HEAD~1 -- ${shown}) and ask the user to make the change`)];
  }
  const out: Problem[] = [];
  let hasDescription = false;
  for (const line of fm.lines) {
    if (!line || /^[ \t]/.test(line)) continue;
    const sep = line.indexOf(':');
    const key = (sep < 0 ? line : line.slice(0, sep)).replaceAll(' ', '');
    const value = trimSpaces(sep < 0 ? line : line.slice(sep + 1));
    if (!LEGACY_KEYS.includes(key)) {
      out.push(problem(path, `has frontmatter key "${key}" that Letta Code does not allow (only ${LEGACY_KEYS.join(', ')})`, `remove that line from ${shown}`));
      continue;
    }
    if (key === 'read_only' && previous !== null) {
      if (previous === undefined) out.push(problem(path, 'sets read_only, which only the user may set', `remove the read_only line from ${shown}`));
      else if (value !== legacyValue(previous, key)) out.push(problem(path, 'changes read_only, which only the user may change', `restore the previous read_only line in ${shown}`));
    }
    if (key === 'description') {
      hasDescription = true;
      if (!value) out.push(problem(path, 'has an empty description', `write a description after "description:" in ${shown}`));
    }
  }
  if (!hasDescription) out.push(problem(path, 'has no description in its frontmatter', `add a line "description: ..." inside the --- block of ${shown}`));
  if (previous && legacyValue(previous, 'read_only') && !legacyValue(text, 'read_only')) {
    out.push(problem(path, 'drops read_only, which only the user may remove', `restore the previous read_only line in ${shown}`));
  }
  return out;
}

const isInt = (v: unknown, min: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

function validPattern(p: unknown): p is string {
  return typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.includes('\\') && !p.split('/').includes('..') && !p.split('/').some((s) => s.includes('**') && s !== '**');
}

/** `.memfs.config.json` as the checker reads it: the config, or its complaints (each one line). */
export function parseConstraintsConfig(text: string): { config: Partial<Config> } | { errors: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { errors: [`is not valid JSON (${(err as Error).message})`] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { errors: ['must be a JSON object'] };
  const c = value as Record<string, unknown>;
  const errors: string[] = [];
  const known = ['version', 'maxDepth', 'maxFileCharacters', 'maxCoreMemoryCharacters', 'fileCharacterLimits', 'readOnlyFiles'];
  for (const k of Object.keys(c)) if (!known.includes(k)) errors.push(`has unknown field "${k}"`);
  if (c.version !== 1) errors.push('needs "version": 1');
  if (c.maxDepth !== undefined && !isInt(c.maxDepth, 0)) errors.push('maxDepth must be a non-negative integer');
  for (const k of ['maxFileCharacters', 'maxCoreMemoryCharacters']) if (c[k] !== undefined && !isInt(c[k], 1)) errors.push(`${k} must be a positive integer`);
  if (c.readOnlyFiles !== undefined) {
    if (!Array.isArray(c.readOnlyFiles)) errors.push('readOnlyFiles must be an array');
    else c.readOnlyFiles.forEach((p, i) => validPattern(p) || errors.push(`readOnlyFiles[${i}] must be a repo-relative glob using '/' ('**' only as a whole segment)`));
  }
  const limits = c.fileCharacterLimits;
  if (limits !== undefined && !Array.isArray(limits)) errors.push('fileCharacterLimits must be an array');
  if (Array.isArray(limits)) {
    limits.forEach((o, i) => {
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return void errors.push(`fileCharacterLimits[${i}] must be an object`);
      const item = o as Record<string, unknown>;
      for (const k of Object.keys(item)) if (k !== 'pattern' && k !== 'maxCharacters') errors.push(`fileCharacterLimits[${i}] has unknown field "${k}"`);
      if (!validPattern(item.pattern)) errors.push(`fileCharacterLimits[${i}].pattern must be a repo-relative glob using '/' ('**' only as a whole segment)`);
      if (item.maxCharacters !== null && !isInt(item.maxCharacters, 1)) errors.push(`fileCharacterLimits[${i}].maxCharacters must be a positive integer or null`);
    });
  }
  return errors.length ? { errors } : { config: c as Partial<Config> };
}

/** The checker's glob: `*` within a segment, `**` across them (`**\/` also matches nothing), `?` one character. */
function globRegExp(pattern: string): RegExp {
  let src = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      if (pattern[i + 2] === '/') {
        src += '(?:.*/)?';
        i += 2;
      } else {
        src += '.*';
        i += 1;
      }
    } else if (ch === '*') src += '[^/]*';
    else if (ch === '?') src += '[^/]';
    else src += /[\\^$.*+?()[\]{}|]/.test(ch) ? `\\${ch}` : ch;
  }
  return new RegExp(`${src}$`);
}

/** Characters as the checker counts them: code points of the text, a BOM included. */
const characters = (text: string) => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

/** Indexes, depth, per-file and core character limits, and readOnlyFiles (letta-memory-constraints.cjs). */
function checkConstraints(t: CodeTree, layout: Layout, config: Config, requireRoot: boolean): Problem[] {
  const out: Problem[] = [];
  const md = t.files.filter((f) => f.path.endsWith('.md'));
  const mdPaths = new Set(md.map((f) => f.path));
  const v2 = layout === 'root-marker' && (requireRoot || mdPaths.has('MEMORY.md'));
  if (v2 && !mdPaths.has('MEMORY.md')) out.push(problem('MEMORY.md', 'is missing; Letta Code needs a root MEMORY.md index in this layout', 'add MEMORY.md at the root (plain Markdown, no frontmatter) listing the memory files'));
  const memory = md.filter((f) => !f.path.startsWith('skills/') && (v2 || layout === 'shared-memory' || LEGACY_MEMORY.test(f.path)));
  if (v2) {
    for (const f of memory) {
      const dirs = f.path.split('/').slice(0, -1);
      for (let i = 1; i <= dirs.length; i++) {
        const index = `${dirs.slice(0, i).join('/')}/MEMORY.md`;
        if (!mdPaths.has(index)) {
          out.push(problem(f.path, `is in a folder without its index ${index}`, `add ${escapePath(index)} (plain Markdown, no frontmatter) that lists the files of that folder`));
          break;
        }
      }
    }
  }
  const overrides = config.fileCharacterLimits.map((o) => ({ ...o, re: globRegExp(o.pattern) }));
  const guarded = config.readOnlyFiles.map(globRegExp);
  if (guarded.length && t.base) {
    const before = new Map(t.base.map((f) => [f.path, f]));
    const after = new Map(t.files.map((f) => [f.path, f]));
    for (const p of new Set([...before.keys(), ...after.keys()])) {
      if (!guarded.some((re) => re.test(p))) continue;
      const a = before.get(p);
      const b = after.get(p);
      if (a?.mode !== b?.mode || a?.oid !== b?.oid) {
        out.push(problem(p, 'is listed in readOnlyFiles of .memfs.config.json, and Letta Code refuses any change to it', `restore it as it is on the remote (git checkout @{upstream} -- ${escapePath(p)}), or ask the user to change readOnlyFiles`));
      }
    }
  }
  let core = 0;
  for (const f of memory) {
    const shown = escapePath(f.path);
    if (!f.mode.startsWith('100')) {
      out.push(problem(f.path, 'is memory Markdown but not a regular file', `replace it with a regular file (git rm --cached -- ${shown}, then add the content as a file)`));
      continue;
    }
    const depth = f.path.split('/').length - 1;
    if (config.maxDepth !== undefined && depth > config.maxDepth) {
      out.push(problem(f.path, `is ${depth} folders deep, over maxDepth ${config.maxDepth}`, `move it to at most ${config.maxDepth} folder(s) deep and update the MEMORY.md indexes`));
    }
    const o = overrides.find((x) => x.re.test(f.path));
    const limit = o ? o.maxCharacters : config.maxFileCharacters;
    const countCore = layout === 'root-marker' && !f.path.includes('/') && config.maxCoreMemoryCharacters !== undefined;
    if ((limit === null || limit === undefined) && !countCore) continue;
    const n = characters(t.text(f.oid) ?? '');
    if (countCore) core += n;
    if (limit !== null && limit !== undefined && n > limit) {
      out.push(problem(f.path, `has ${n} characters, over the ${limit} of ${o ? `the limit for '${o.pattern}'` : 'maxFileCharacters'}`, `split ${shown} into smaller files in a folder with its own MEMORY.md index`));
    }
  }
  if (layout === 'root-marker' && config.maxCoreMemoryCharacters !== undefined && core > config.maxCoreMemoryCharacters) {
    out.push(problem('MEMORY.md', `core memory (the root Markdown files) has ${core} characters, over maxCoreMemoryCharacters ${config.maxCoreMemoryCharacters}`, 'move detail out of the root files into a folder with its own MEMORY.md index'));
  }
  return out;
}

const changedSince = (t: CodeTree) => {
  const before = new Map((t.base ?? []).map((f) => [f.path, f]));
  return t.files.filter((f) => {
    const b = before.get(f.path);
    return !b || b.oid !== f.oid || b.mode !== f.mode;
  });
};

/**
 * Every problem Letta Code's pre-commit would report for a commit of this tree on top of the base, in its order:
 * skill paths and frontmatter first, then the constraints (which its hook runs only when those pass).
 */
export function checkLettaCodeTree(t: CodeTree, layout: Layout): Problem[] {
  const has = (files: readonly CodeFile[] | undefined, p: string) => (files ?? []).some((f) => f.path === p);
  const rootMarked = has(t.files, 'MEMORY.md') || has(t.base, 'MEMORY.md');
  const v2 = layout === 'shared-memory' || (layout === 'root-marker' && rootMarked);
  const out: Problem[] = [];
  const changed = changedSince(t);
  const flatSkill = v2 ? /^skills\/[^/]+\.md$/ : /^(memory\/)?skills\/[^/]+\.md$/;
  for (const f of changed) {
    if (flatSkill.test(f.path)) out.push(problem(f.path, 'is a skill file outside a skill folder', `move it to skills/<name>/SKILL.md (git mv -- ${escapePath(f.path)} skills/<name>/SKILL.md)`));
  }
  if (v2) {
    const indexed = new Set(t.files.filter((f) => f.path.split('/').at(-1) === 'MEMORY.md').map((f) => f.path));
    for (const f of t.files) {
      if (!f.path.endsWith('.md') || f.path.startsWith('skills/')) continue;
      if (layout === 'root-marker') {
        const dirs = f.path.split('/').slice(0, -1);
        // Files below a folder without an index are not memory in this layout: its frontmatter is not checked.
        if (dirs.some((_, i) => !indexed.has(`${dirs.slice(0, i + 1).join('/')}/MEMORY.md`))) continue;
      }
      out.push(...checkV2File(f.path, t.text(f.oid) ?? ''));
    }
  } else {
    const before = new Map((t.base ?? []).map((f) => [f.path, f]));
    // Its legacy hook lists `git diff --cached --diff-filter=ACM`, where git's rename detection (on by default) turns
    // a file moved from a removed path, unchanged or at least 50 % similar, into an R entry, which that filter drops:
    // such a file is not checked.
    const moved = renamedPaths(t, changed.filter((f) => !before.has(f.path)));
    for (const f of changed) {
      if (!LEGACY_MEMORY.test(f.path) || moved.has(f.path)) continue;
      const b = before.get(f.path);
      out.push(...checkLegacyFile(f.path, t.text(f.oid) ?? '', t.base === undefined ? null : b ? t.text(b.oid) : undefined));
    }
  }
  if (out.length) return out;
  const hasConfig = has(t.files, CONFIG_PATH);
  const v2Root = layout === 'root-marker' && rootMarked;
  if (!hasConfig && !v2Root) return [];
  let config: Config = DEFAULTS;
  if (hasConfig) {
    const c = t.files.find((f) => f.path === CONFIG_PATH)!;
    if (!c.mode.startsWith('100')) return [problem(CONFIG_PATH, 'must be a regular file', `replace it with a regular file (git rm --cached -- ${CONFIG_PATH}, then add it as a file)`)];
    const parsed = parseConstraintsConfig(t.text(c.oid) ?? '');
    if ('errors' in parsed) return parsed.errors.map((e) => problem(CONFIG_PATH, e, `fix ${CONFIG_PATH} as the message says, or restore it from the remote (git checkout @{upstream} -- ${CONFIG_PATH})`));
    const given: Config = { fileCharacterLimits: [], readOnlyFiles: [], ...parsed.config };
    config = layout === 'root-marker' ? { ...DEFAULTS, ...parsed.config, fileCharacterLimits: given.fileCharacterLimits, readOnlyFiles: given.readOnlyFiles } : given;
  }
  return checkConstraints(t, layout, config, has(t.base, 'MEMORY.md'));
}

/**
 * The added paths git's rename detection pairs with a removed file (diffcore-rename.c @ git 2.39): each file once;
 * identical contents first, then equal basenames that are similar enough, then the most similar pairs first.
 */
function renamedPaths(t: CodeTree, added: readonly CodeFile[]): Set<string> {
  const kept = new Set(t.files.map((f) => f.path));
  const byPath = (a: CodeFile, b: CodeFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const sources = (t.base ?? []).filter((b) => !kept.has(b.path)).sort(byPath);
  const dsts = [...added].sort(byPath);
  const used = new Set<string>();
  const paired = new Set<string>();
  const pair = (src: CodeFile, dst: CodeFile) => {
    used.add(src.path);
    paired.add(dst.path);
  };
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  for (const src of sources) {
    const same = dsts.filter((d) => !paired.has(d.path) && d.oid === src.oid);
    const pick = same.find((d) => base(d.path) === base(src.path)) ?? same[0];
    if (pick) pair(src, pick);
  }
  const free = () => [sources.filter((x) => !used.has(x.path)), dsts.filter((d) => !paired.has(d.path))] as const;
  const [srcLeft, dstLeft] = free();
  for (const src of srcLeft) {
    const name = base(src.path);
    const s = srcLeft.filter((x) => base(x.path) === name);
    const d = dstLeft.filter((x) => base(x.path) === name);
    if (s.length === 1 && d.length === 1 && !paired.has(d[0].path) && similarity(t.text(src.oid), t.text(d[0].oid)) >= 0.5) pair(src, d[0]);
  }
  const [srcs, ds] = free();
  const scored = ds.flatMap((d, di) => srcs.map((src, si) => ({ d, src, score: similarity(t.text(src.oid), t.text(d.oid)), di, si })));
  scored.sort((x, y) => y.score - x.score || x.di - y.di || x.si - y.si);
  for (const c of scored) {
    if (c.score < 0.5) break;
    if (!used.has(c.src.path) && !paired.has(c.d.path)) pair(c.src, c.d);
  }
  return paired;
}

/**
 * How similar git's rename detection finds two texts, 0 to 1 (diffcore-delta.c and estimate_similarity, git 2.39):
 * bytes in common, counted over chunks that end at a newline or after 64 bytes (a text's CR before LF not counted),
 * against the larger size; 0 when the sizes alone rule out the default 50 % threshold.
 */
export function similarity(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return 0;
  const A = Buffer.from(a);
  const B = Buffer.from(b);
  const larger = Math.max(A.length, B.length);
  if (larger === 0) return 1;
  if ((larger - Math.min(A.length, B.length)) * 2 > larger) return 0;
  const chunks = (buf: Buffer) => {
    // As hash_chars does: in a text (no NUL in its first 8,000 bytes) a CR before an LF is not counted, so a file and
    // its CRLF copy are the same material; a chunk ends after a newline or 64 counted bytes.
    const text = !buf.subarray(0, 8000).includes(0);
    const out = new Map<string, number>();
    let chunk: number[] = [];
    const end = () => {
      const k = Buffer.from(chunk).toString('latin1');
      out.set(k, (out.get(k) ?? 0) + chunk.length);
      chunk = [];
    };
    for (let i = 0; i < buf.length; i++) {
      if (text && buf[i] === 0x0d && buf[i + 1] === 0x0a) continue;
      chunk.push(buf[i]);
      if (buf[i] === 0x0a || chunk.length === 64) end();
    }
    if (chunk.length > 0) end();
    return out;
  };
  const ca = chunks(A);
  let common = 0;
  for (const [k, n] of chunks(B)) common += Math.min(n, ca.get(k) ?? 0);
  return common / larger;
}

/** The blobs checkLettaCodeTree reads: every `.md` file, the config, and the base's version of changed legacy files. */
export function lettaCodeReads(files: readonly CodeFile[], base: readonly CodeFile[] | undefined): string[] {
  const oids = files.filter((f) => f.path.endsWith('.md') || f.path === CONFIG_PATH).map((f) => f.oid);
  const before = new Map((base ?? []).map((f) => [f.path, f]));
  for (const f of files) {
    const b = before.get(f.path);
    if (b && b.oid !== f.oid && LEGACY_MEMORY.test(f.path)) oids.push(b.oid);
  }
  // Removed files: a legacy memory file may have been moved from one (git's rename detection compares contents).
  const kept = new Set(files.map((f) => f.path));
  for (const b of base ?? []) if (!kept.has(b.path) && b.path.endsWith('.md')) oids.push(b.oid);
  return [...new Set(oids)];
}
