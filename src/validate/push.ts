/**
 * Pure decisions of the client's pre-push hook: what in a pushed tree would break the Letta server, and why.
 * No git, no fs: the adapter (push-reader.ts) lists trees and reads blobs, this module judges them.
 */
import { parse as parseYaml } from 'yaml';
import { isLettaGitUrl } from '../core/agent-id.js';
import { redactUrl } from '../core/redact.js';
import { selfCommand } from '../core/self-command.js';

export const ZERO_OID = /^0+$/;

export interface PushUpdate {
  localRef: string;
  localOid: string;
  remoteRef: string;
  remoteOid: string;
}

/** git's pre-push stdin: `<local-ref> <local-oid> <remote-ref> <remote-oid>` per line (githooks(5)). */
export function parsePrePushInput(stdin: string): PushUpdate[] {
  const out: PushUpdate[] = [];
  for (const line of stdin.split('\n')) {
    const parts = line.trim().split(' ');
    if (parts.length !== 4) continue;
    const [localRef, localOid, remoteRef, remoteOid] = parts;
    out.push({ localRef, localOid, remoteRef, remoteOid });
  }
  return out;
}

/**
 * Updates whose content the server will read: those that set `main` on the remote. Reflection worktrees
 * (letta-code >= 0.27.26) push `letta/reflection/*` branches that the server never syncs; deletions carry no tree.
 */
export function mainUpdates<U extends Pick<PushUpdate, 'remoteRef' | 'localOid'>>(updates: readonly U[]): U[] {
  return updates.filter((u) => u.remoteRef === 'refs/heads/main' && !ZERO_OID.test(u.localOid));
}

export interface Problem {
  path: string;
  message: string;
  fix: string;
}

export function formatProblem(p: Problem): string {
  return `${p.path}: ${p.message} (fix: ${p.fix})`;
}

/**
 * The push URL git hands pre-push is already rewritten by `url.*.insteadOf`; if it is still a Letta `/v1/git/` URL,
 * the redirect is missing for it and the push would go to the Letta proxy, which a self-hosted server cannot serve
 * (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7).
 */
export function checkPushUrl(url: string): Problem | undefined {
  if (!isLettaGitUrl(url)) return undefined;
  return {
    path: redactUrl(url),
    message: 'this push would go to the Letta /v1/git/ proxy, not to your git host',
    fix: `re-run ${selfCommand()} init in this checkout so the redirect covers this URL`,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The server reads every file in the tree with `subprocess.run(..., text=True)`, one `git show HEAD:<path>` each
 * (letta/services/memory_repo/git_operations.py @ 0.16.7): a single non-UTF-8 file fails the whole sync, and a NUL
 * byte cannot go into the Postgres text column.
 */
export function checkEncoding(path: string, content: Uint8Array): Problem | undefined {
  if (content.includes(0)) {
    return { path, message: 'is a binary file (contains NUL bytes); the Letta server cannot sync binary files', fix: `remove it and commit (git rm --cached ${path} && git commit), or keep it outside the memory repo` };
  }
  try {
    utf8.decode(content);
  } catch {
    return { path, message: 'is not valid UTF-8; the Letta server reads every file as UTF-8 text and its sync would fail', fix: `re-encode it as UTF-8 (e.g. iconv -t UTF-8) or remove it` };
  }
  return undefined;
}

/** Files whose frontmatter Letta Code checks (letta-code src/agent/memory-git-hooks.ts @ v0.30.28, pre-commit). */
export function isCheckedMemoryFile(path: string): boolean {
  return /^(memory\/)?(system|reference)\/.*\.md$/.test(path);
}

// Keys the server reads (letta/services/memory_repo/block_markdown.py @ 0.16.7). Letta Code's pre-commit allows
// description, read_only and limit; the server also writes `metadata` when a block has any, so a pulled file may carry it.
const ALLOWED_KEYS = ['description', 'read_only', 'limit', 'metadata'];

export type Frontmatter =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; message: string; fix: string };

/**
 * Parses frontmatter the way the server does: the text (CRLF taken as LF) starts with `---\n`, and the YAML ends at
 * the first `\n---\n` after it. Anything else makes the server take the whole file, frontmatter included, as the
 * block's value, which is what this hook exists to prevent.
 */
export function parseFrontmatter(text: string): Frontmatter {
  const t = text.replace(/\r\n/g, '\n');
  if (!t.startsWith('---\n')) {
    return { ok: false, message: 'has no frontmatter (the file must start with a --- line)', fix: 'start it with ---, a "description: ..." line, then ---' };
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
  let data: unknown;
  try {
    data = yamlText.trim() === '' ? {} : parseYaml(yamlText);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { ok: false, message: `frontmatter is not valid YAML: ${first}`, fix: 'quote values that contain ": " or start with special characters' };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, message: 'frontmatter is not a YAML mapping', fix: 'write it as "key: value" lines' };
  }
  return { ok: true, data: data as Record<string, unknown> };
}

function readOnlyOf(data: Record<string, unknown>): boolean {
  return data.read_only === true || data.read_only === 'true';
}

/**
 * Frontmatter rules for one changed file, after Letta Code's pre-commit hook (letta-code
 * src/agent/memory-git-hooks.ts @ v0.30.28): closed frontmatter, non-empty `description`, only known keys, and
 * `read_only` is the server's: a client may not add, change or remove it, nor edit a file that has it.
 * `base` is the remote's version of the file: a string, null when the remote has no such file, undefined when the
 * remote's state is unknown (a new branch), in which case there is nothing to compare read_only against.
 */
export function checkFrontmatter(path: string, text: string, base: string | null | undefined): Problem[] {
  const fm = parseFrontmatter(text);
  if (!fm.ok) return [{ path, message: fm.message, fix: fm.fix }];
  const problems: Problem[] = [];
  const baseFm = typeof base === 'string' ? parseFrontmatter(base) : undefined;
  const baseData = baseFm?.ok ? baseFm.data : undefined;
  if (baseData && readOnlyOf(baseData)) {
    // Compared after CRLF normalisation: the server stores LF, so a line-ending-only change is no edit.
    if (base!.replace(/\r\n/g, '\n') !== text.replace(/\r\n/g, '\n')) {
      return [{ path, message: 'is read_only on the server and cannot be edited', fix: `undo the change (git checkout origin/main -- ${path}) and edit the block in Letta instead` }];
    }
    return [];
  }
  for (const key of Object.keys(fm.data)) {
    if (!ALLOWED_KEYS.includes(key)) {
      problems.push({ path, message: `unknown frontmatter key "${key}" (allowed: ${ALLOWED_KEYS.join(', ')})`, fix: `remove "${key}" from the frontmatter` });
    }
  }
  const desc = fm.data.description;
  // The server writes `description: null` for a block without one (block_markdown.py @ 0.16.7); editing such a
  // block's value is fine, only a description that was there may not be dropped or emptied.
  const inheritedNull = desc === null && baseData !== undefined && (baseData.description === null || baseData.description === '');
  if (!inheritedNull && (desc === undefined || desc === null)) {
    problems.push({ path, message: 'frontmatter has no description', fix: 'add a line "description: <what this block is for>"' });
  } else if (!inheritedNull && (typeof desc !== 'string' || desc.trim() === '')) {
    problems.push({ path, message: 'description must be a non-empty string', fix: 'give the description some text' });
  }
  if (base !== undefined) {
    const had = baseData ? baseData.read_only : undefined;
    const has = fm.data.read_only;
    if (JSON.stringify(had ?? null) !== JSON.stringify(has ?? null)) {
      const what = had === undefined ? (base === null ? 'set on a new file' : 'added') : has === undefined ? 'removed' : 'changed';
      problems.push({ path, message: `read_only is set by the server and cannot be ${what} by a client`, fix: `restore the remote's read_only line${base === null ? ' (none: drop it)' : ''}` });
    }
  }
  return problems;
}

/** One entry of `git ls-tree -r`: mode, type, object id, path. */
export interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

/** Parses `git ls-tree -r -z` output. */
export function parseLsTree(z: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const rec of z.split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid] = rec.slice(0, tab).split(' ');
    out.push({ mode, type, oid, path: rec.slice(tab + 1) });
  }
  return out;
}

/** Which blobs the validation needs: every blob of the pushed tree, plus the remote's version of changed memory files. */
export function blobsToRead(tree: readonly TreeEntry[], base: readonly TreeEntry[] | undefined): Set<string> {
  const need = new Set<string>();
  const baseByPath = new Map((base ?? []).map((e) => [e.path, e]));
  for (const e of tree) {
    if (e.type !== 'blob') continue;
    need.add(e.oid);
    const b = baseByPath.get(e.path);
    if (b && b.type === 'blob' && b.oid !== e.oid && isCheckedMemoryFile(e.path)) need.add(b.oid);
  }
  return need;
}

/**
 * All problems in a pushed tree. Encoding is checked on every file (one bad file fails the server's whole read);
 * frontmatter only on memory files that differ from the remote's version, as Letta Code checks only staged files.
 */
export function validateTree(
  tree: readonly TreeEntry[],
  base: readonly TreeEntry[] | undefined,
  blobs: ReadonlyMap<string, Uint8Array>,
): Problem[] {
  const problems: Problem[] = [];
  const baseByPath = new Map((base ?? []).map((e) => [e.path, e]));
  for (const e of tree) {
    if (e.type === 'commit') {
      problems.push({ path: e.path, message: 'is a submodule; the Letta server cannot read it', fix: `remove it (git rm ${e.path})` });
      continue;
    }
    if (e.type !== 'blob') continue;
    const content = blobs.get(e.oid);
    if (!content) continue;
    const enc = checkEncoding(e.path, content);
    if (enc) {
      problems.push(enc);
      continue;
    }
    if (!isCheckedMemoryFile(e.path)) continue;
    const b = baseByPath.get(e.path);
    if (b && b.oid === e.oid) continue;
    let baseText: string | null | undefined;
    if (base === undefined) baseText = undefined;
    else if (!b || b.type !== 'blob') baseText = null;
    else {
      const bc = blobs.get(b.oid);
      baseText = bc ? Buffer.from(bc).toString('utf8') : undefined;
    }
    problems.push(...checkFrontmatter(e.path, Buffer.from(content).toString('utf8'), baseText));
  }
  return problems;
}
