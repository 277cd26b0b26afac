/**
 * Pure validation of a pushed tree: what in it would break the Letta server's sync or a checkout, and why.
 * Role-independent: the client's pre-push and a server's pre-receive both call validateUpdate with a reader of
 * their own repo's objects; nothing here runs git or touches the file system.
 */
import { checkFrontmatterWith, checkReadOnlyGoneWith, serverSyncs, type YamlParser } from './frontmatter-rules.js';
import type { BlobReader, TreeEntry } from '../git/tree.js';
import { checkEntry } from './names.js';
import { escapePath } from './text.js';
import type { Problem } from './problem.js';
import { NeedsYaml, strictYaml } from './simple-yaml.js';
import { checkLettaCodeTree, lettaCodeReads } from './letta-code-rules.js';
import { type Profile, SERVER_PROFILE } from './profile.js';

/**
 * Largest file accepted. The server reads every file of the tree into memory for each sync, one `git show` each
 * (letta/services/memory_repo/git_operations.py @ 0.16.7), and a block is text for an LLM's context: a file this
 * big is a mistake, and reading it would only slow every sync.
 */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The server reads every file in the tree with `subprocess.run(..., text=True)` (git_operations.py @ 0.16.7): a
 * single non-UTF-8 file fails the whole sync, and a NUL byte cannot go into the Postgres text column. The fatal
 * decoder also refuses overlong forms and encoded surrogates, which Python's UTF-8 codec refuses too.
 */
export function checkEncoding(path: string, content: Uint8Array): Problem | undefined {
  const shown = escapePath(path);
  if (content.includes(0)) {
    return { path, message: 'is a binary file (contains NUL bytes); the Letta server cannot sync binary files', fix: `remove it and commit (git rm --cached -- ${shown} && git commit), or keep it outside the memory repo` };
  }
  try {
    utf8.decode(content);
  } catch {
    return { path, message: 'is not valid UTF-8; the Letta server reads every file as UTF-8 text and its sync would fail', fix: `re-encode it as UTF-8 (e.g. iconv -t UTF-8) or remove it` };
  }
  return undefined;
}

/** A ref update: the tree it would set, and the tree it replaces (undefined when unknown, e.g. a new branch). */
export interface TreeUpdate {
  tree: readonly TreeEntry[];
  base: readonly TreeEntry[] | undefined;
}

const human = (n: number) => (n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);

/**
 * Content checks once names, modes and sizes passed. Encoding is checked on every file (one bad file fails the
 * server's whole read); frontmatter on files the server syncs that differ from the base, as Letta Code checks only
 * staged files; read_only on every file Letta syncs, including those the push removes (`gone`). A file whose content
 * is missing from `blobs` is skipped (checked by its size or absent from the repo).
 */
function checkContent(files: readonly TreeEntry[], base: readonly TreeEntry[] | undefined, gone: readonly TreeEntry[], blobs: ReadonlyMap<string, Uint8Array>, parseYaml: YamlParser): Problem[] {
  const problems: Problem[] = [];
  const baseByPath = new Map((base ?? []).map((e) => [e.path, e]));
  // Buffer decoding keeps a BOM (TextDecoder would strip it), as the server's Python does.
  const text = (oid: string) => {
    const c = blobs.get(oid);
    return c ? Buffer.from(c).toString('utf8') : undefined;
  };
  for (const e of files) {
    const content = blobs.get(e.oid);
    if (!content) continue;
    const enc = checkEncoding(e.path, content);
    if (enc) {
      problems.push(enc);
      continue;
    }
    if (!serverSyncs(e.path)) continue;
    const b = baseByPath.get(e.path);
    if (b && b.oid === e.oid) continue;
    const baseText = base === undefined ? undefined : !b || b.type !== 'blob' ? null : text(b.oid);
    problems.push(...checkFrontmatterWith(e.path, text(e.oid)!, baseText, parseYaml));
  }
  for (const g of gone) {
    const t = text(g.oid);
    const p = t === undefined ? undefined : checkReadOnlyGoneWith(g.path, t, parseYaml);
    if (p) problems.push(p);
  }
  return problems;
}

/**
 * checkContent with the strict frontmatter parser, which covers plain `key: value` frontmatter; only when some changed
 * file needs more is the `yaml` package loaded (most of what a pre-push would otherwise load: issue 9).
 */
async function checkContentLoadingYaml(files: readonly TreeEntry[], base: readonly TreeEntry[] | undefined, gone: readonly TreeEntry[], blobs: ReadonlyMap<string, Uint8Array>): Promise<Problem[]> {
  try {
    return checkContent(files, base, gone, blobs, strictYaml);
  } catch (err) {
    if (!(err instanceof NeedsYaml)) throw err;
    return checkContent(files, base, gone, blobs, (await import('./frontmatter.js')).parseYaml);
  }
}

/**
 * Letta Code's rules (letta-code-rules.ts) on the files that passed the safety checks. Only Markdown must be text:
 * Letta Code keeps other files (images, CSV) as memory too, and reads only `.md` files as text.
 */
function checkLettaCodeContent(files: readonly TreeEntry[], base: readonly TreeEntry[] | undefined, blobs: ReadonlyMap<string, Uint8Array>, layout: Extract<Profile, { consumer: 'letta-code' }>['layout']): Problem[] {
  const problems: Problem[] = [];
  for (const e of files) {
    const content = blobs.get(e.oid);
    const enc = e.path.endsWith('.md') && content ? checkEncoding(e.path, content) : undefined;
    if (enc) problems.push({ ...enc, message: enc.message.replace(/the Letta server.*$/, 'memory Markdown is text that Letta Code puts in the prompt') });
  }
  if (problems.length) return problems;
  // Buffer decoding keeps a BOM, as Letta Code's `git show` output read with encoding utf8 does.
  const text = (oid: string) => {
    const b = blobs.get(oid);
    return b ? Buffer.from(b).toString('utf8') : undefined;
  };
  return checkLettaCodeTree({ files, base: base?.filter((e) => e.type === 'blob'), text }, layout);
}

/**
 * Every problem with an update, one per file: names and modes first (no content is read for a refused entry), then
 * sizes (an oversized blob is never read), then content by the profile's rules (the Letta server's unless given).
 * What the client's pre-push and a server's pre-receive run.
 */
export async function validateUpdate(update: TreeUpdate, reader: BlobReader, profile: Profile = SERVER_PROFILE, maxFileBytes = MAX_FILE_BYTES): Promise<Problem[]> {
  const problems: Problem[] = [];
  const files: TreeEntry[] = [];
  const seen = new Set<string>();
  for (const e of update.tree) {
    if (seen.has(e.path)) {
      problems.push({ path: e.path, message: 'appears twice in the same tree (a crafted tree)', fix: 'rebuild the commit with git add and git commit, then push' });
      continue;
    }
    seen.add(e.path);
    const p = checkEntry(e.path, e.mode);
    if (p) problems.push(p);
    else if (e.type === 'blob') files.push(e);
  }
  const baseByPath = new Map((update.base ?? []).map((e) => [e.path, e]));
  // What content is read besides the files: the server's rules need the base's version of each changed synced file
  // and of each synced file the push removes (read_only); Letta Code's read only Markdown and its config (and the
  // base's changed legacy files).
  const kept = new Set(files.map((e) => e.path));
  const gone = profile.consumer === 'letta-code' ? [] : (update.base ?? []).filter((b) => b.type === 'blob' && !kept.has(b.path) && serverSyncs(b.path));
  const baseOids =
    profile.consumer === 'letta-code'
      ? lettaCodeReads(files, update.base?.filter((e) => e.type === 'blob')).filter((oid) => !files.some((e) => e.oid === oid))
      : [
          ...files
          .map((e) => ({ e, b: baseByPath.get(e.path) }))
          .filter(({ e, b }) => b !== undefined && b.type === 'blob' && b.oid !== e.oid && serverSyncs(e.path))
          .map(({ b }) => b!.oid),
          ...gone.map((b) => b.oid),
        ];
  const wanted = profile.consumer === 'letta-code' ? new Set(lettaCodeReads(files, undefined)) : undefined;
  const sizes = await reader.sizes([...new Set([...files.map((e) => e.oid), ...baseOids])]);
  const readable = new Set<string>();
  for (const e of files) {
    const size = sizes.get(e.oid);
    if (size !== undefined && size > maxFileBytes) {
      problems.push({ path: e.path, message: `is ${human(size)}, over the ${human(maxFileBytes)} limit for a file in a memory repo`, fix: `keep large files outside the memory repo (git rm --cached -- ${escapePath(e.path)}, commit, push)` });
    } else if (size !== undefined && (!wanted || wanted.has(e.oid))) readable.add(e.oid);
  }
  for (const oid of baseOids) if ((sizes.get(oid) ?? Infinity) <= maxFileBytes) readable.add(oid);
  const blobs = await reader.read([...readable]);
  const ok = files.filter((e) => sizes.has(e.oid) && (sizes.get(e.oid) ?? Infinity) <= maxFileBytes);
  if (profile.consumer === 'letta-code') return [...problems, ...checkLettaCodeContent(ok, update.base, blobs, profile.layout)];
  return [...problems, ...(await checkContentLoadingYaml(ok.filter((e) => readable.has(e.oid)), update.base, gone, blobs))];
}

/** A blob a push brings in any of its commits, with a path it had there (`git rev-list --objects`). */
export interface PushedBlob {
  oid: string;
  path: string;
}

/**
 * The size and encoding checks on every new blob of a push, not only on its last tree: a binary or huge file added in
 * one commit and removed in the next stays in the history that Letta copies for each of its commits and that is
 * mirrored to the external host. Blobs of the last tree are validateUpdate's; pass the others. The Letta server's
 * profile: serve's repos are the server's.
 */
export async function validateNewBlobs(blobs: readonly PushedBlob[], reader: BlobReader, maxFileBytes = MAX_FILE_BYTES): Promise<Problem[]> {
  const problems: Problem[] = [];
  const fix = 'drop it from every commit of the push (git rebase -i origin/main), then push';
  const sizes = await reader.sizes([...new Set(blobs.map((b) => b.oid))]);
  const small = blobs.filter((b) => {
    const size = sizes.get(b.oid);
    if (size !== undefined && size > maxFileBytes) problems.push({ path: b.path, message: `is ${human(size)} in a commit of this push, over the ${human(maxFileBytes)} limit for a file in a memory repo`, fix });
    return size !== undefined && size <= maxFileBytes;
  });
  const contents = await reader.read([...new Set(small.map((b) => b.oid))]);
  for (const b of small) {
    const content = contents.get(b.oid);
    const p = content && checkEncoding(b.path, content);
    if (p) problems.push({ path: b.path, message: `${p.message.replace(/;.*$/, '')} in a commit of this push`, fix });
  }
  return problems;
}
