/**
 * Reads and appends to git config files without a git process: `init --server` touches one config per agent, and at
 * 10,000 agents three git processes each made it take minutes. It follows git's own parser (config.c @ git 2.39:
 * get_base_var, get_extended_base_var, get_value, parse_value) for what a plain config holds. Anything else returns
 * undefined and the caller asks git: continuation lines, CR, a BOM, control or non-UTF-8 bytes, `[section.sub]`
 * headers, a key on a header's line, a key without `=`, a bad escape, a key before any section.
 */

/** One `key = value` line, the key as `git config --list` prints it (section and name lowercased). */
export interface ConfigEntry {
  key: string;
  value: string;
}

export interface ParsedConfig {
  entries: ConfigEntry[];
  /** Every section header, entries or not, as a key prefix (`section` or `section.subsection`). */
  sections: Set<string>;
}

const SECTION = /^[A-Za-z0-9-]+$/;
const NAME = /^[A-Za-z][A-Za-z0-9-]*/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', b: '\b', '\\': '\\', '"': '"' };
const isSpace = (c: string | undefined) => c === ' ' || c === '\t';

function skipSpace(line: string, i: number): number {
  while (isSpace(line[i])) i++;
  return i;
}

/** `[section]` or `[section "sub"]` starting after the `[`; the key prefix, or undefined. */
function parseHeader(line: string, start: number): string | undefined {
  let i = start;
  while (i < line.length && line[i] !== ']' && !isSpace(line[i])) i++;
  const section = line.slice(start, i);
  if (!SECTION.test(section)) return undefined;
  let prefix = section.toLowerCase();
  if (isSpace(line[i])) {
    i = skipSpace(line, i);
    if (line[i++] !== '"') return undefined;
    let sub = '';
    for (; line[i] !== '"'; i++) {
      if (i >= line.length) return undefined;
      if (line[i] === '\\') i++;
      if (i >= line.length) return undefined;
      sub += line[i];
    }
    i++;
    prefix += `.${sub}`;
  }
  if (line[i++] !== ']') return undefined;
  i = skipSpace(line, i);
  return i === line.length || line[i] === '#' || line[i] === ';' ? prefix : undefined;
}

/** A value as git's parse_value reads it: quotes, escapes, comments, and each unquoted blank run kept as spaces. */
function parseValue(line: string, start: number): string | undefined {
  let quote = false;
  let spaces = 0;
  let v = '';
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (isSpace(c) && !quote) {
      if (v.length > 0) spaces++;
      continue;
    }
    if (!quote && (c === ';' || c === '#')) return v;
    v += ' '.repeat(spaces);
    spaces = 0;
    if (c === '\\') {
      const e = ESCAPES[line[++i]];
      if (e === undefined) return undefined;
      v += e;
    } else if (c === '"') {
      quote = !quote;
    } else {
      v += c;
    }
  }
  return quote ? undefined : v;
}

/** Parses a config file's text; undefined when it holds anything this reader does not fully understand. */
export function parseGitConfig(text: string): ParsedConfig | undefined {
  // U+FFFD: bytes that were not UTF-8 (the value would not round-trip).
  if (/[\0-\x08\x0b-\x1f\x7f\ufffd\ufeff]/.test(text)) return undefined;
  const out: ParsedConfig = { entries: [], sections: new Set() };
  let section: string | undefined;
  for (const line of text.split('\n')) {
    let i = skipSpace(line, 0);
    if (i === line.length || line[i] === '#' || line[i] === ';') continue;
    if (line[i] === '[') {
      section = parseHeader(line, i + 1);
      if (section === undefined) return undefined;
      out.sections.add(section);
      continue;
    }
    const name = NAME.exec(line.slice(i))?.[0];
    if (!name || section === undefined) return undefined;
    i = skipSpace(line, i + name.length);
    if (line[i] !== '=') return undefined;
    const value = parseValue(line, i + 1);
    if (value === undefined) return undefined;
    out.entries.push({ key: `${section}.${name.toLowerCase()}`, value });
  }
  return out;
}

/** Entries as key -> values, the shape `parseConfigList` gives for `git config --list -z`. */
export function entryMap(entries: readonly ConfigEntry[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { key, value } of entries) out.set(key, [...(out.get(key) ?? []), value]);
  return out;
}

/** A value as git's write_pair writes it: quoted when it has a leading or trailing space, `#` or `;`. */
function formatValue(v: string): string {
  const quote = v.startsWith(' ') || v.endsWith(' ') || /[#;]/.test(v) ? '"' : '';
  return quote + v.replace(/[\\"]/g, '\\$&') + quote;
}

/**
 * The text `git config --file <f> --add key value` would leave, applied in order, when none of the keys' sections
 * exists in the file yet (git then appends each new section at the end, its later keys under it). undefined when git
 * has to decide where lines go: the text is not fully understood, a section exists already, or a key is invalid.
 */
export function appendEntries(text: string, adds: readonly ConfigEntry[]): string | undefined {
  const parsed = parseGitConfig(text);
  if (!parsed) return undefined;
  const sections = new Map<string, string[]>();
  for (const { key, value } of adds) {
    const first = key.indexOf('.');
    const last = key.lastIndexOf('.');
    // Written as given: git keeps the caller's case in what it writes (it compares case-insensitively).
    const section = key.slice(0, first);
    const name = key.slice(last + 1);
    // Control characters (refused before this anyway, git-config.ts) are left to git's own escaping.
    if (first < 0 || !SECTION.test(section) || NAME.exec(name)?.[0] !== name || /[\0-\x1f\x7f]/.test(key + value)) return undefined;
    const sub = first === last ? undefined : key.slice(first + 1, last);
    const prefix = sub === undefined ? section.toLowerCase() : `${section.toLowerCase()}.${sub}`;
    if (parsed.sections.has(prefix)) return undefined;
    if (!sections.has(prefix)) sections.set(prefix, [sub === undefined ? `[${section}]` : `[${section} "${sub.replace(/[\\"]/g, '\\$&')}"]`]);
    sections.get(prefix)!.push(`\t${name} = ${formatValue(value)}`);
  }
  const lead = text.length > 0 && !text.endsWith('\n') ? '\n' : '';
  return text + lead + [...sections.values()].map((lines) => lines.join('\n') + '\n').join('');
}
