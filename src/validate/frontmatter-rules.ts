/**
 * Pure frontmatter rules for memory files, as Letta Code's pre-commit hook and the server's parser apply them. The
 * YAML parser is the caller's: frontmatter.ts binds the `yaml` package, the pre-push hook a strict one (simple-yaml.ts)
 * so that it loads yaml only when a frontmatter needs it.
 */
import { escapePath } from './text.js';
import type { Problem } from './problem.js';
import { NeedsYaml, Yaml11Refusal } from './simple-yaml.js';

/** Parses YAML text; throws on invalid YAML (its message's first line is shown). */
export type YamlParser = (text: string) => unknown;

/**
 * The block label Letta syncs a file as, or undefined for a file it never syncs: every `.md` except under `skills/`,
 * where only `skills/<name>/SKILL.md` counts (memory_block_label_from_markdown_path,
 * letta/services/memory_repo/path_mapping.py @ 0.16.7). read_only guards every one of them.
 */
export function blockLabelOf(file: string): string | undefined {
  if (!file.endsWith('.md')) return undefined;
  const skill = /^skills\/([^/]+)\/SKILL\.md$/.exec(file);
  if (skill) return `skills/${skill[1]}`;
  return file.startsWith('skills/') ? undefined : file.slice(0, -3);
}

/** Files whose frontmatter every Letta Code release checks (legacy pre-commit @ v0.30.28 through 0.34.12). */
export function isCheckedMemoryFile(path: string): boolean {
  return /^(memory\/)?(system|reference)\/.*\.md$/.test(path);
}

/** Whether the Letta server syncs the file as a block (blockLabelOf). */
export function serverSyncs(path: string): boolean {
  return blockLabelOf(path) !== undefined;
}

// Keys the server reads (letta/services/memory_repo/block_markdown.py @ 0.16.8 parse_block_markdown takes these four
// and ignores any other key). Letta Code's legacy pre-commit allows description, read_only and limit; the server
// writes `metadata` when a block has any; Letta Code 0.34's v2 layout writes `name` beside description, for server
// agents' checkouts too, and the server ignores it.
const ALLOWED_KEYS = ['description', 'read_only', 'limit', 'metadata', 'name'];

export type Frontmatter =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; message: string; fix: string; absent?: true };

/**
 * Parses frontmatter the way the server does: the text (CRLF taken as LF) starts with `---\n`, and the YAML ends at
 * the first `\n---\n` after it. Anything else makes the server take the whole file, frontmatter included, as the
 * block's value, which is what this hook exists to prevent.
 */
export function parseFrontmatterWith(text: string, parseYaml: YamlParser): Frontmatter {
  // The server reads files with universal newlines (subprocess text=True): CRLF and a lone CR are both LF.
  const t = text.replace(/\r\n?/g, '\n');
  // Python keeps a UTF-8 BOM as U+FEFF, so the server sees no leading ---: frontmatter would become block text.
  const firstLine = t.replace(/^\ufeff/, '').split('\n')[0];
  if (t.startsWith('\ufeff') && /^---[ \t]*$/.test(firstLine)) {
    return { ok: false, message: 'starts with a UTF-8 byte order mark (BOM); the server would take the frontmatter as block text', fix: 'save the file as UTF-8 without BOM' };
  }
  if (/^---[ \t]+$/.test(firstLine)) {
    return { ok: false, message: 'has spaces after its opening ---; the server would take the frontmatter as block text', fix: 'make the first line exactly ---' };
  }
  if (!t.startsWith('---\n')) {
    return { ok: false, absent: true, message: 'has no frontmatter (the file must start with a --- line)', fix: 'start it with ---, a "description: ..." line, then ---' };
  }
  const end = t.indexOf('\n---\n', 4);
  if (end < 0) {
    const atEof = t.endsWith('\n---');
    return {
      ok: false,
      message: atEof ? 'frontmatter closing --- has no newline after it' : 'frontmatter is opened but never closed',
      fix: atEof ? 'add a newline after the closing ---' : 'add a --- line after the frontmatter',
    };
  }
  const yamlText = t.slice(4, end);
  // An empty frontmatter is YAML null to PyYAML, not a mapping: the server takes the whole file, --- lines included,
  // as the block's value (parse_block_markdown @ 0.16.8).
  if (yamlText.trim() === '') {
    return { ok: false, message: 'has an empty frontmatter; the server would take the --- lines as block text', fix: 'add a "description: ..." line between the --- lines, or remove both' };
  }
  let data: unknown;
  try {
    data = parseYaml(yamlText);
  } catch (err) {
    if (err instanceof NeedsYaml) throw err;
    if (err instanceof Yaml11Refusal) return { ok: false, message: `frontmatter ${err.message}`, fix: err.fix };
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { ok: false, message: `frontmatter is not valid YAML: ${first}`, fix: 'quote values that contain ": " or start with special characters' };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, message: 'frontmatter is not a YAML mapping', fix: 'write it as "key: value" lines' };
  }
  return { ok: true, data: data as Record<string, unknown> };
}

/** Postgres' integer column for a block's limit. */
const MAX_LIMIT = 2_147_483_647;

/**
 * The types the server stores each key as (block_manager_git.py _sync_block_to_postgres @ 0.16.8): an integer limit,
 * a boolean read_only, a mapping for metadata. Anything else fails that block's sync or stores something else.
 */
function typeProblems(path: string, data: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const { limit, read_only: ro, metadata } = data;
  if ('limit' in data && !(typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) {
    out.push({ path, message: `limit must be a whole number of characters from 1 to ${MAX_LIMIT} (the server reads ${JSON.stringify(limit)})`, fix: 'write it in plain digits, e.g. "limit: 5000", or remove the line' });
  }
  if ('read_only' in data && typeof ro !== 'boolean') {
    out.push({ path, message: `read_only must be true or false (the server reads ${JSON.stringify(ro)})`, fix: 'write "read_only: true" or "read_only: false"' });
  }
  if ('metadata' in data && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    out.push({ path, message: 'metadata must be a mapping of keys to values', fix: 'write it as indented "key: value" lines under "metadata:", or remove it' });
  }
  return out;
}

/**
 * Whether the server takes the value as true: it hands the parsed YAML value to a pydantic bool
 * (block_manager_git.py `_sync_block_to_postgres` @ 0.16.7), which also accepts 1 and "yes", "on", "t", "y", "1".
 */
function readOnlyOf(data: Record<string, unknown>): boolean {
  const v = data.read_only;
  return v === true || v === 1 || (typeof v === 'string' && /^(true|yes|on|t|y|1)$/i.test(v.trim()));
}

// Universal newlines, as the server reads files: a CRLF or lone-CR-only change is no edit.
const sameText = (a: string, b: string) => a.replace(/\r\n?/g, '\n') === b.replace(/\r\n?/g, '\n');

/**
 * The read_only rules alone, for every file Letta syncs: a file that is read_only in `base` (the remote's main) may
 * not change, and read_only may not be added, changed or removed. `base` as in checkFrontmatterWith.
 */
export function checkReadOnlyWith(path: string, text: string, base: string | null | undefined, parseYaml: YamlParser): Problem[] {
  if (base === undefined) return [];
  const baseFm = base === null ? undefined : parseFrontmatterWith(base, parseYaml);
  const baseData = baseFm?.ok ? baseFm.data : undefined;
  if (baseData && readOnlyOf(baseData)) {
    if (sameText(base!, text)) return [];
    return [{ path, message: 'is read_only on the server and cannot be edited', fix: `undo the change (git checkout origin/main -- ${escapePath(path)}) and edit the block in Letta instead` }];
  }
  const fm = parseFrontmatterWith(text, parseYaml);
  const had = baseData ? baseData.read_only : undefined;
  const has = fm.ok ? fm.data.read_only : undefined;
  if (JSON.stringify(had ?? null) === JSON.stringify(has ?? null)) return [];
  const what = had === undefined ? (base === null ? 'set on a new file' : 'added') : has === undefined ? 'removed' : 'changed';
  return [{ path, message: `read_only is set by the server and cannot be ${what} by a client`, fix: `restore the remote's read_only line${base === null ? ' (none: drop it)' : ''}` }];
}

/**
 * A file that is read_only in the remote's main and gone from the pushed tree (deleted, renamed, replaced by a
 * directory): the server would detach its block, and a file re-added later makes a new block without the flag.
 */
export function checkReadOnlyGoneWith(path: string, base: string, parseYaml: YamlParser): Problem | undefined {
  const fm = parseFrontmatterWith(base, parseYaml);
  if (!fm.ok || !readOnlyOf(fm.data)) return undefined;
  return { path, message: 'is read_only on the server and cannot be deleted or renamed', fix: `restore it (git checkout origin/main -- ${escapePath(path)}) and change the block in Letta instead` };
}

/**
 * A file the server may take whole as its block's value: a frontmatter-free file is "value-only (backward compat)" to
 * parse_block_markdown (block_markdown.py @ 0.16.8), which breaks nothing. Letta Code 0.34's v2 layout writes its
 * MEMORY.md indexes so, anywhere; its legacy pre-commit requires frontmatter only under system/ and reference/.
 */
function mayLackFrontmatter(path: string): boolean {
  return path.split('/').at(-1) === 'MEMORY.md' || !isCheckedMemoryFile(path);
}

/**
 * Frontmatter rules for one changed file the server syncs (serverSyncs). Everywhere: what the server would misread
 * (frontmatter it takes as block text, YAML 1.1 types it cannot store) and `read_only`, which is the server's: a
 * client may not add, change or remove it, nor edit a file that has it. Under system/ and reference/ also what every
 * Letta Code release's pre-commit requires there (letta-code src/agent/memory-git-hooks.ts @ v0.30.28): frontmatter
 * (MEMORY.md indexes excepted), a non-empty `description`, only known keys. Elsewhere the server ignores unknown keys
 * and keeps a block's description when a file has none (block_manager_git.py _sync_block_to_postgres @ 0.16.8).
 * `base` is the remote's version of the file: a string, null when the remote has no such file, undefined when the
 * remote's state is unknown (a new branch), in which case there is nothing to compare read_only against.
 */
export function checkFrontmatterWith(path: string, text: string, base: string | null | undefined, parseYaml: YamlParser): Problem[] {
  const baseFm = typeof base === 'string' ? parseFrontmatterWith(base, parseYaml) : undefined;
  const baseData = baseFm?.ok ? baseFm.data : undefined;
  if (baseData && readOnlyOf(baseData)) return checkReadOnlyWith(path, text, base, parseYaml);
  const fm = parseFrontmatterWith(text, parseYaml);
  if (!fm.ok) {
    if (fm.absent && mayLackFrontmatter(path) && !(baseData && 'read_only' in baseData)) return [];
    return [{ path, message: fm.message, fix: fm.fix }];
  }
  const strict = isCheckedMemoryFile(path);
  const problems: Problem[] = [];
  if (strict) {
    for (const key of Object.keys(fm.data)) {
      if (!ALLOWED_KEYS.includes(key)) {
        problems.push({ path, message: `unknown frontmatter key "${key}" (allowed: ${ALLOWED_KEYS.join(', ')})`, fix: `remove "${key}" from the frontmatter` });
      }
    }
  }
  problems.push(...typeProblems(path, fm.data));
  const desc = fm.data.description;
  // The server writes `description: null` for a block without one (block_markdown.py @ 0.16.7); editing such a
  // block's value is fine, only a description that was there may not be dropped or emptied.
  const inheritedNull = desc === null && baseData !== undefined && (baseData.description === null || baseData.description === '');
  if (desc !== undefined && desc !== null && typeof desc !== 'string') {
    problems.push({ path, message: `description must be text, but the Letta server (YAML 1.1) reads it as ${JSON.stringify(desc)}`, fix: 'put the description in double quotes: description: "..."' });
  } else if (strict && !inheritedNull && (desc === undefined || desc === null)) {
    problems.push({ path, message: 'frontmatter has no description', fix: 'add a line "description: <what this block is for>"' });
  } else if (strict && !inheritedNull && typeof desc === 'string' && desc.trim() === '') {
    problems.push({ path, message: 'description must be a non-empty string', fix: 'give the description some text' });
  }
  problems.push(...checkReadOnlyWith(path, text, base, parseYaml));
  return problems;
}
