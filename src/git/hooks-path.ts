import path from 'node:path';
import { readSmallFile } from '../core/fs.js';
import { git, type GitOptions } from './git.js';
import { parseGitConfig } from './config-file.js';

// git stops at this include depth with an error (config.c MAX_INCLUDE_DEPTH @ git 2.39); we let git report it.
const MAX_INCLUDE_DEPTH = 10;

/**
 * Whether config from outside any repo (system, global, `-c` / GIT_CONFIG_* in the environment) leaves
 * `core.hooksPath` alone for every repo: none of it sets the key, and none is conditional (`includeIf.*`, which can
 * differ per repo). One git process, for a whole batch of installs (`init --server --all`); `opts` only gives git a
 * place to run, its repo-level entries are not looked at.
 */
export async function noHooksPathOutsideRepos(opts: GitOptions): Promise<boolean> {
  const r = await git(['config', '--list', '-z', '--show-scope'], { ...opts, allowFailure: true });
  if (r.exitCode !== 0) return false;
  const fields = r.stdout.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'local' || fields[i] === 'worktree') continue;
    const key = fields[i + 1].split('\n', 1)[0];
    if (key === 'core.hookspath' || key.startsWith('includeif.')) return false;
  }
  return true;
}

type Lookup = { value: string | undefined } | undefined;

/** The last core.hooksPath in a config file with its includes followed in place; undefined: ask git. */
function lookup(file: string, depth: number): Lookup {
  if (depth > MAX_INCLUDE_DEPTH) return undefined;
  let text: string | undefined;
  try {
    text = readSmallFile(file);
  } catch {
    return undefined;
  }
  if (text === undefined) return { value: undefined }; // git skips a missing include
  const parsed = parseGitConfig(text);
  if (!parsed) return undefined;
  let value: string | undefined;
  for (const e of parsed.entries) {
    // A conditional include, or per-worktree config: what applies depends on more than this file.
    if (e.key.startsWith('includeif.') || e.key === 'extensions.worktreeconfig') return undefined;
    if (e.key === 'core.hookspath') value = e.value;
    if (e.key === 'include.path') {
      if (e.value === '' || /^(~|%\(prefix\))/.test(e.value)) return undefined; // expanded by git
      const inner = lookup(path.resolve(path.dirname(file), e.value), depth + 1);
      if (!inner) return undefined;
      value = inner.value ?? value;
    }
  }
  return { value };
}

/**
 * `core.hooksPath` as `git config --get` would print it for a repo whose common dir is `commonDir`, read from its
 * config file (and the files it includes) when nothing outside the repo sets it (`noHooksPathOutsideRepos`).
 * `{ value: undefined }` when unset; undefined when the files hold something only git can answer.
 */
export const repoHooksPath = (commonDir: string): Lookup => lookup(path.join(commonDir, 'config'), 0);
