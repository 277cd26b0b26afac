import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { USAGE, unsafeCharIn } from '../core/config/values.js';
import { UserError } from '../core/errors.js';
import { git } from './git.js';
import { appendEntries, entryMap, parseGitConfig } from './config-file.js';

/** A config key we changed, with what it held before (null: it was unset), so uninstall can put it back. */
export interface ConfigChange {
  key: string;
  previous: string[] | null;
}

/**
 * A git-config quoted string (subsection names, values): backslash and double quote escaped (git-config(1)). A newline
 * or other control character cannot be written safely (a raw newline breaks every git call on the repo), so it is
 * refused here too, as a last guard behind the config schema (src/core/config/values.ts).
 */
export function quoteConfigString(s: string): string {
  assertConfigSafe(s);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function assertConfigSafe(s: string): void {
  const found = unsafeCharIn(s);
  if (found) throw new UserError(`refusing to write a git config value with ${found}`, 'fix the setting it comes from (remote, URLs, paths) and re-run', USAGE);
}

/** Desired values per key (a list: some keys, like http.*.extraHeader, are multi-valued); null unsets the key. */
export type DesiredConfig = Record<string, string[] | null>;

/** Parses `git config --list -z` output into key -> values (keys as git prints them: section and name lowercased). */
export function parseConfigList(z: string): Map<string, string[]> {
  const entries = z.split('\0').filter(Boolean).map((entry) => {
    const nl = entry.indexOf('\n');
    return nl < 0 ? { key: entry, value: '' } : { key: entry.slice(0, nl), value: entry.slice(nl + 1) };
  });
  return entryMap(entries);
}

/** git lowercases the section and variable name but keeps the subsection (URLs) as written. */
export function canonicalKey(key: string): string {
  const first = key.indexOf('.');
  const last = key.lastIndexOf('.');
  if (first === last) return key.toLowerCase();
  return key.slice(0, first).toLowerCase() + key.slice(first, last) + key.slice(last).toLowerCase();
}

/** Pure: which keys need writing to reach `desired`, and the prior values to record for keys touched first now. */
export function planConfig(current: Map<string, string[]>, desired: DesiredConfig, recorded: readonly ConfigChange[]) {
  const writes: { key: string; values: string[] | null; isSet: boolean }[] = [];
  const newChanges: ConfigChange[] = [];
  for (const [key, values] of Object.entries(desired)) {
    const have = current.get(canonicalKey(key)) ?? null;
    if (JSON.stringify(have) === JSON.stringify(values)) continue;
    writes.push({ key, values, isSet: have !== null });
    if (!recorded.some((c) => canonicalKey(c.key) === canonicalKey(key))) newChanges.push({ key, previous: have });
  }
  return { writes, newChanges };
}

/** What `git config --file <file> --list` holds (includes not followed), read without git when the text is plain. */
export async function readConfigFile(file: string): Promise<Map<string, string[]>> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const parsed = text === undefined ? undefined : parseGitConfig(text);
  if (parsed) return entryMap(parsed.entries);
  const r = await git(['config', '--file', file, '--list', '-z'], { allowFailure: true });
  return parseConfigList(r.exitCode === 0 ? r.stdout : '');
}

async function writeKey(file: string, key: string, values: string[] | null, isSet = true): Promise<void> {
  // Each git process costs a few ms, and init --server writes 1,000 repos: skip the unset of a key known absent.
  if (isSet) {
    // exit 5: the key was not set; nothing to remove.
    const unset = await git(['config', '--file', file, '--unset-all', key], { allowFailure: true });
    if (unset.exitCode !== 0 && unset.exitCode !== 5) await git(['config', '--file', file, '--unset-all', key]);
  }
  for (const v of values ?? []) await git(['config', '--file', file, '--add', key, v]);
}

export async function fileHash(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

export interface ConfigRecord {
  configChanges: ConfigChange[];
  configAfterInstall?: string;
}

/**
 * Brings a repo config file to `desired`, recording each key's prior values the first time we touch it. A byte copy
 * of the file from before our first change lets uninstall restore it exactly, as long as nobody else edits it.
 *
 * All or nothing, with git's own lock protocol: the edits go to `<file>.lock` (created exclusively, so a running git
 * writer makes us stop instead of racing it), which is renamed over the file only when every edit succeeded. A failed
 * or refused run leaves the config, and the state dir, as they were (no stray `config.orig`).
 */
export async function applyConfig(
  file: string,
  stateDir: string,
  desired: DesiredConfig,
  record: ConfigRecord,
): Promise<ConfigRecord> {
  for (const [key, values] of Object.entries(desired)) [key, ...(values ?? [])].forEach(assertConfigSafe);
  const { writes, newChanges } = planConfig(await readConfigFile(file), desired, record.configChanges);
  if (writes.length === 0) return record;
  const original = await fs.readFile(file);
  const lock = `${file}.lock`;
  // Only new keys in sections the file does not have yet (a first install): the bytes `git config --add` would write,
  // straight into the lock; anything else is left to git.
  const appended = writes.every((w) => !w.isSet)
    ? appendEntries(original.toString('utf8'), writes.flatMap((w) => (w.values ?? []).map((value) => ({ key: w.key, value }))))
    : undefined;
  try {
    await fs.writeFile(lock, appended ?? original, { flag: 'wx', mode: (await fs.stat(file)).mode & 0o777 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new UserError(`${file} is locked by another git process (${lock} exists)`, `wait for it to finish and re-run; if no git is running, remove ${lock}`);
  }
  const orig = path.join(stateDir, 'config.orig');
  const createdState = !(await fs.stat(stateDir).then(() => true, () => false));
  try {
    if (appended === undefined) for (const w of writes) await writeKey(lock, w.key, w.values, w.isSet);
    await fs.mkdir(stateDir, { recursive: true });
    if (record.configAfterInstall === undefined) {
      await fs.writeFile(orig, original);
    } else if ((await fileHash(file)) !== record.configAfterInstall) {
      // Edited by someone else since our last write: the old copy would undo their edit, so restore key by key instead.
      await fs.rm(orig, { force: true });
    }
    const after = await fileHash(lock);
    await fs.rename(lock, file);
    return { configChanges: [...record.configChanges, ...newChanges], configAfterInstall: after };
  } catch (err) {
    await fs.rm(lock, { force: true });
    if (createdState) await fs.rm(stateDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Undoes our config changes: the original bytes when nobody edited the file since our last write, otherwise key by
 * key (leaving the user's later edits in place). Returns true when the bytes were restored exactly.
 */
export async function restoreConfig(
  file: string,
  stateDir: string,
  changes: readonly ConfigChange[],
  afterInstall: string | undefined,
): Promise<boolean> {
  const orig = path.join(stateDir, 'config.orig');
  const origExists = await fs.stat(orig).then(
    () => true,
    () => false,
  );
  if (origExists && afterInstall && (await fileHash(file)) === afterInstall) {
    await fs.copyFile(orig, file);
    return true;
  }
  for (const c of [...changes].reverse()) await writeKey(file, c.key, c.previous);
  return false;
}
