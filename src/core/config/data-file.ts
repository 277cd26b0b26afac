/**
 * Config files are data, never code: JSON or YAML, parsed without tags, anchors or aliases (no custom types, no
 * "billion laughs"), size-capped, and errors that name the line but never quote the file (it may hold a secret).
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isAlias, isNode, parseDocument, visit } from 'yaml';
import { UserError } from '../errors.js';
import { USAGE } from './values.js';

export const MODULE_NAME = 'letta-memfs-hooks';
const MAX_BYTES = 64 * 1024;
const DATA_EXT = ['json', 'yaml', 'yml'];
const CODE_EXT = ['js', 'cjs', 'mjs', 'ts', 'cts', 'mts'];

/** `<base>.json`, `<base>.yaml`, `<base>.yml`: the names read, first found wins. */
export const dataNames = (base: string) => DATA_EXT.map((e) => `${base}.${e}`);

/** `<base>.js` ... `<base>.mts`: names that would be code, never loaded (only warned about). */
export const codeNames = (base: string) => CODE_EXT.map((e) => `${base}.${e}`);

/**
 * Every name a cosmiconfig search for this module would look at in a directory (where users of such tools put
 * config), `.config/` variants included, plus TypeScript module flavours: found where config is not read, each gets
 * a warning, so a file there is never silently ignored.
 */
export function conventionalNames(): string[] {
  const rc = `.${MODULE_NAME}rc`;
  const top = [rc, ...dataNames(rc), ...codeNames(rc)];
  return [...top, ...top.map((n) => `.config/${n.slice(1)}`), ...codeNames(`${MODULE_NAME}.config`)];
}

/** Whether `--config` names a data file; anything else (a .js, .ts...) is refused instead of run. */
export function isDataFileName(file: string): boolean {
  const ext = path.extname(file).slice(1).toLowerCase();
  return ext === '' || DATA_EXT.includes(ext);
}

function lineOf(text: string, offset: number | undefined): number {
  return offset === undefined ? 1 : text.slice(0, offset).split('\n').length;
}

/** Pure: the settings object in a JSON/YAML text (undefined when empty). */
export function parseData(text: string, file: string): unknown {
  const bad = (why: string) => new UserError(`cannot read config ${file}: ${why}`, 'write it as plain JSON or YAML data (no tags, anchors or aliases)', USAGE);
  let doc;
  try {
    doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true, merge: false, schema: 'core' });
  } catch {
    throw bad('not valid JSON or YAML');
  }
  const err = doc.errors[0] ?? doc.warnings[0];
  if (err) throw bad(`not valid JSON or YAML (line ${lineOf(text, err.pos?.[0])}: ${err.code})`);
  // Any explicit tag (even !!binary or !!set) would make something other than plain data; aliases are the
  // "billion laughs"; anchors serve only aliases.
  let unsafe: string | undefined;
  let value: unknown;
  try {
    visit(doc, (_key, node) => {
      if (isAlias(node)) unsafe = 'an alias';
      else if (isNode(node) && node.anchor) unsafe = 'an anchor';
      else if (isNode(node) && node.tag) unsafe = 'a tag';
      return unsafe ? visit.BREAK : undefined;
    });
    if (!unsafe) value = doc.toJS({ maxAliasCount: 0 });
  } catch {
    // A stack overflow on deep nesting that the parser let through.
    throw bad('too deeply nested');
  }
  if (unsafe) throw bad(`uses ${unsafe}`);
  return value ?? undefined;
}

/** Reads and parses a data config file; undefined when the file does not exist. */
export async function readDataFile(file: string): Promise<unknown> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO planted under a config name must not hang the command; fstat below refuses it.
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'check the file and its permissions', USAGE);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new UserError(`cannot read config ${file}: not a regular file`, 'point at a JSON or YAML file', USAGE);
    if (st.size > MAX_BYTES) throw new UserError(`cannot read config ${file}: larger than ${MAX_BYTES / 1024} KiB`, 'a config file holds a few settings; remove the rest', USAGE);
    return parseData(await handle.readFile('utf8'), file);
  } finally {
    await handle.close();
  }
}

/** Config files present in `dir` under any of `names` (relative), without reading them. */
export async function presentIn(dir: string, names: readonly string[]): Promise<string[]> {
  const found = await Promise.all(names.map((n) => fs.lstat(path.join(dir, n)).then(() => path.join(dir, n), () => undefined)));
  return found.filter((f): f is string => f !== undefined);
}

/** A package.json in `dir` with a "letta-memfs-hooks" key (read as data, capped), as the old search did. */
export async function packageJsonWithKey(dir: string): Promise<string | undefined> {
  const file = path.join(dir, 'package.json');
  try {
    const st = await fs.stat(file);
    if (!st.isFile() || st.size > 1024 * 1024) return undefined;
    const pkg: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    return pkg && typeof pkg === 'object' && Object.hasOwn(pkg, MODULE_NAME) ? file : undefined;
  } catch {
    return undefined;
  }
}
