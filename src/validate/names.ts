/**
 * Pure rules for path names in a memory repo tree.
 *
 * Names arrive as bytes (`git ls-tree -z`). They are decoded like Python's `surrogateescape`: valid UTF-8 as text,
 * each invalid byte 0xNN as the lone surrogate U+DCNN, so a non-UTF-8 name survives as a string, is told apart from
 * a valid one, and can be printed back as its bytes.
 */
import type { Problem } from './problem.js';
import { escapePath, isUtf8Name, UNPRINTABLE } from './text.js';

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 1024;

// Code points HFS+ ignores when comparing names, so `.g\u200cit` is `.git` on macOS (git's is_hfs_dotgit, utf8.c).
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * Whether a path component names the git directory on some file system: `.git` in any case, with NTFS's trailing
 * dots and spaces or `:stream` suffix, HFS+'s ignored code points, or as the NTFS short name `git~1`
 * (git's is_ntfs_dotgit / is_hfs_dotgit, path.c and utf8.c).
 */
export function isGitDirName(component: string): boolean {
  const n = component.replace(HFS_IGNORED, '').toLowerCase().replace(/:.*$/, '').replace(/[. ]+$/, '');
  return n === '.git' || n === 'git~1';
}

// Bytes as git stores the name: each escaped invalid byte is one byte (u flag: an emoji's low surrogate is no byte).
const bytes = (s: string) => Buffer.byteLength(s.replace(/[\udc80-\udcff]/gu, 'x'));

function nameProblem(path: string): string | undefined {
  if (!isUtf8Name(path)) return 'has a name that is not valid UTF-8; the Letta server reads names as UTF-8';
  if (UNPRINTABLE.test(path)) return 'has control or invisible characters in its name (newline, escape sequence, bidi or zero-width)';
  if (path.includes('\\')) return 'has a backslash in its name (a path separator on Windows)';
  if (/^[A-Za-z]:/.test(path)) return 'looks like an absolute Windows path (drive letter)';
  if (bytes(path) > MAX_PATH_BYTES) return `has a path longer than ${MAX_PATH_BYTES} bytes`;
  for (const c of path.split('/')) {
    if (c === '' || c === '.' || c === '..') return 'has an empty, "." or ".." path component; a checkout would write outside its directory';
    if (isGitDirName(c)) return 'is inside a ".git" directory (or a name file systems take for it); a checkout would overwrite git\'s own files';
    if (bytes(c) > MAX_NAME_BYTES) return `has a name longer than ${MAX_NAME_BYTES} bytes`;
  }
  return undefined;
}

/** Entry modes a checkout writes as plain files: regular and executable (git's canonical tree modes). */
const FILE_MODES = new Set(['100644', '100755']);

/** The problem with one tree entry's path and mode, if any: one per entry, the first that applies. */
export function checkEntry(path: string, mode: string): Problem | undefined {
  const shown = escapePath(path);
  const why = nameProblem(path);
  if (why) return { path, message: why, fix: `remove or rename it in a clean commit (git rm --cached -- ${shown}), then push` };
  if (mode === '120000') {
    return { path, message: 'is a symbolic link; the Letta server reads files, and a link can point outside the repo', fix: `replace it with a regular file (git rm --cached -- ${shown}, copy the content in, git add)` };
  }
  if (mode === '160000') return { path, message: 'is a submodule; the Letta server cannot read it', fix: `remove it (git rm --cached -- ${shown})` };
  if (!FILE_MODES.has(mode)) return { path, message: `has git mode ${mode}, not a regular file`, fix: `re-add it as a regular file (git rm --cached -- ${shown}, then git add -- ${shown})` };
  return undefined;
}
