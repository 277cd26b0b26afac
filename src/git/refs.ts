import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { readSmallFile } from '../core/fs.js';

export const MAIN = 'refs/heads/main';
/** The null object id: an update-ref expectation that the ref does not exist yet. */
export const ZERO = '0'.repeat(40);

/**
 * Reads a ref straight from the files (loose ref, else packed-refs) without starting git: `watch` polls 1,000 repos
 * this way every cycle. The Letta server writes `refs/heads/main` as a loose file when it copies its temp repo back
 * (letta/services/memory_repo/git_operations.py @ 0.16.7, `_upload_delta`).
 */
export async function readRef(gitDir: string, ref: string): Promise<string | undefined> {
  let loose: string | undefined;
  try {
    loose = readSmallFile(path.join(gitDir, ref));
  } catch {
    loose = undefined; // EISDIR, EACCES: no loose ref to read
  }
  if (loose !== undefined) {
    const v = loose.trim();
    if (/^[0-9a-f]{40}$/.test(v)) return v;
    if (v.startsWith('ref: ')) return readRef(gitDir, v.slice(5).trim());
  }
  let packed = '';
  try {
    packed = readSmallFile(path.join(gitDir, 'packed-refs')) ?? '';
  } catch {
    // unreadable packed-refs: no packed value
  }
  return packedRef(packed, ref);
}

/** Pure: the oid of `ref` in a packed-refs file's text. */
export function packedRef(packed: string, ref: string): string | undefined {
  for (const line of packed.split('\n')) {
    if (line.endsWith(` ${ref}`) && /^[0-9a-f]{40} /.test(line)) return line.slice(0, 40);
  }
  return undefined;
}

/**
 * How many refs start with `prefix` (e.g. `refs/letta-memfs/conflicts/`), from the files like readRef (loose refs
 * under the prefix's directory, plus packed-refs), without starting git: `watch` counts them for its metrics.
 */
export async function countRefs(gitDir: string, prefix: string): Promise<number> {
  const names = new Set<string>();
  const entries = await readdir(path.join(gitDir, prefix), { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isFile()) names.add(path.relative(gitDir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  let packed = '';
  try {
    packed = readSmallFile(path.join(gitDir, 'packed-refs')) ?? '';
  } catch {
    // unreadable packed-refs: only the loose ones count
  }
  for (const line of packed.split('\n')) {
    const m = /^[0-9a-f]{40} (\S+)$/.exec(line);
    if (m && m[1].startsWith(prefix)) names.add(m[1]);
  }
  return names.size;
}
