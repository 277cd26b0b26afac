/**
 * Pure: git's binary tree object format, read as `git ls-tree` reads it, so that a hook can list a commit's files
 * through the `git cat-file --batch-command` it already runs instead of one `git ls-tree` process per tree (each
 * git process costs a pre-push several ms, issue 9). The checks and canonical modes are git's own
 * (tree-walk.c decode_tree_entry, get_mode and cache.h canon_mode, git 2.39): a tree git refuses to list is
 * refused here with git's message.
 */

/** A tree that `git ls-tree` would refuse, with git's message (e.g. "empty filename in tree entry"). */
export class MalformedTree extends Error {}

export interface RawTreeEntry {
  /** As ls-tree prints it: 100644, 100755, 120000, 040000 or 160000. */
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  name: Buffer;
}

/** canon_mode: what git makes of whatever mode a tree entry claims. */
function canonical(mode: number): { mode: string; type: RawTreeEntry['type'] } {
  switch (mode & 0o170000) {
    case 0o100000:
      return { mode: mode & 0o100 ? '100755' : '100644', type: 'blob' };
    case 0o120000:
      return { mode: '120000', type: 'blob' };
    case 0o040000:
      return { mode: '040000', type: 'tree' };
    default:
      return { mode: '160000', type: 'commit' };
  }
}

/** The entries of one tree object (`hashBytes`: 20 for SHA-1 repos, 32 for SHA-256), in stored order. */
export function parseTreeObject(buf: Buffer, hashBytes: number): RawTreeEntry[] {
  const out: RawTreeEntry[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const size = buf.length - pos;
    // decode_tree_entry: room for a mode, a name and an id, and the name's NUL right before the id.
    if (size < hashBytes + 3 || buf[buf.length - (hashBytes + 1)] !== 0) throw new MalformedTree('too-short tree object');
    if (buf[pos] === 0x20) throw new MalformedTree('malformed mode in tree entry');
    let mode = 0;
    let i = pos;
    for (; buf[i] !== 0x20; i++) {
      const c = buf[i];
      if (c === undefined || c < 0x30 || c > 0x37) throw new MalformedTree('malformed mode in tree entry');
      mode = ((mode << 3) + (c - 0x30)) >>> 0; // an unsigned int in git, wrapping as it does
    }
    const nameStart = i + 1;
    const nul = buf.indexOf(0, nameStart);
    if (nul === nameStart) throw new MalformedTree('empty filename in tree entry');
    const end = nul + 1 + hashBytes;
    if (nul < 0 || end > buf.length) throw new MalformedTree('too-short tree file');
    out.push({ ...canonical(mode), oid: buf.subarray(nul + 1, end).toString('hex'), name: buf.subarray(nameStart, nul) });
    pos = end;
  }
  return out;
}

/** UTF-8 bytes to a string, invalid bytes kept as U+DC80..U+DCFF (never produced by valid UTF-8). */
export function decodeName(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let cp = len === 1 ? b : len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
    let ok = len > 0 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 (RFC 3629).
    if (ok && ((len === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
    if (!ok) {
      out += String.fromCharCode(0xdc00 | b);
      i += 1;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += len;
  }
  return out;
}

/** One entry of `git ls-tree -r`: mode, type, object id, path (decoded by decodeName). */
export interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

/** Parses `git ls-tree -r -z` output, given as bytes so that a non-UTF-8 name is kept (and refused) as such. */
export function parseLsTree(z: Uint8Array): TreeEntry[] {
  const out: TreeEntry[] = [];
  const buf = Buffer.from(z.buffer, z.byteOffset, z.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    let end = buf.indexOf(0, pos);
    if (end < 0) end = buf.length;
    const tab = buf.indexOf(0x09, pos);
    if (tab > pos && tab < end) {
      const [mode, type, oid] = buf.subarray(pos, tab).toString('latin1').split(' ');
      out.push({ mode, type, oid, path: decodeName(buf.subarray(tab + 1, end)) });
    }
    pos = end + 1;
  }
  return out;
}

/** Reads objects of the repo being validated. `read` is only ever given blobs whose size `sizes` reported. */
export interface BlobReader {
  /** Size in bytes of each blob present (`git cat-file --batch-check`), without reading any content. */
  sizes(oids: readonly string[]): Promise<Map<string, number>>;
  read(oids: readonly string[]): Promise<Map<string, Uint8Array>>;
}
