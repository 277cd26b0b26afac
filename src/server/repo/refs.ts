import fs from 'node:fs/promises';
import path from 'node:path';

export const MAIN = 'refs/heads/main';

/**
 * Reads a ref straight from the files (loose ref, else packed-refs) without starting git: `watch` polls 1,000 repos
 * this way every cycle. The Letta server writes `refs/heads/main` as a loose file when it copies its temp repo back
 * (letta/services/memory_repo/git_operations.py @ 0.16.7, `_upload_delta`).
 */
export async function readRef(gitDir: string, ref: string): Promise<string | undefined> {
  const loose = await fs.readFile(path.join(gitDir, ref), 'utf8').catch(() => undefined);
  if (loose !== undefined) {
    const v = loose.trim();
    if (/^[0-9a-f]{40}$/.test(v)) return v;
    if (v.startsWith('ref: ')) return readRef(gitDir, v.slice(5).trim());
  }
  const packed = await fs.readFile(path.join(gitDir, 'packed-refs'), 'utf8').catch(() => '');
  return packedRef(packed, ref);
}

/** Pure: the oid of `ref` in a packed-refs file's text. */
export function packedRef(packed: string, ref: string): string | undefined {
  for (const line of packed.split('\n')) {
    if (line.endsWith(` ${ref}`) && /^[0-9a-f]{40} /.test(line)) return line.slice(0, 40);
  }
  return undefined;
}
