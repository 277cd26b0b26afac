// Commits into a server repo.git the way an operator's pull would land them: work in a temp clone, then
// `git --git-dir=repo.git fetch --update-head-ok <clone> main:main` (repo.git is a non-bare .git, facts §1).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function git(args: string[], cwd?: string): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.invalid' },
  });
}

export type FileChange = string | Buffer | null; // null deletes the file

/** Applies the changes in a clone of repo.git, commits, fetches the commit back into repo.git's main. */
export function commitToServerRepo(repoGit: string, changes: Record<string, FileChange>, message = 'e2e change'): string {
  const work = mkdtempSync(join(tmpdir(), 'letta-e2e-clone-'));
  try {
    git(['clone', '-q', repoGit, work]);
    for (const [path, content] of Object.entries(changes)) {
      if (content === null) {
        git(['rm', '-q', path], work);
      } else {
        mkdirSync(dirname(join(work, path)), { recursive: true });
        writeFileSync(join(work, path), content);
        git(['add', path], work);
      }
    }
    git(['commit', '-q', '-m', message], work);
    git(['--git-dir', repoGit, 'fetch', '-q', '--update-head-ok', work, 'main:main']);
    return git(['--git-dir', repoGit, 'rev-parse', 'main']).trim();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function showFile(repoGit: string, path: string, ref = 'main'): string {
  return git(['--git-dir', repoGit, 'show', `${ref}:${path}`]);
}

export function lsTree(repoGit: string, ref = 'main'): string[] {
  return git(['--git-dir', repoGit, 'ls-tree', '-r', '--name-only', ref]).split('\n').filter(Boolean);
}

export function blockFile(fm: { description?: string | null; read_only?: boolean; limit?: number; metadata?: Record<string, string> }, value: string): string {
  const lines: string[] = [];
  if (fm.description !== undefined) lines.push(`description: ${fm.description === null ? 'null' : JSON.stringify(fm.description)}`);
  if (fm.read_only !== undefined) lines.push(`read_only: ${fm.read_only}`);
  if (fm.limit !== undefined) lines.push(`limit: ${fm.limit}`);
  if (fm.metadata) {
    lines.push('metadata:');
    for (const [k, v] of Object.entries(fm.metadata)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  return `---\n${lines.join('\n')}\n---\n${value}`;
}
