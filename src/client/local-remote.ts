/**
 * The zero-config remote: a bare repo per agent on this machine, `~/.letta/memfs-remote/<agentId>.git`, created on
 * demand. The single-machine case (the external remote is a backup and a history), and a way for a newcomer to see
 * the whole thing work before owning a git host; `init --remote <url>` later moves the redirect to a real host.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { git } from '../git/git.js';

export function localRemoteTemplate(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.HOME || os.homedir(), '.letta', 'memfs-remote', '{agentId}.git');
}

/** Creates the bare repo (branch main) unless it exists; returns whether it was created. */
export async function ensureLocalRemote(dir: string): Promise<boolean> {
  if (await fs.stat(path.join(dir, 'HEAD')).then(() => true, () => false)) return false;
  await fs.mkdir(path.dirname(dir), { recursive: true });
  await git(['init', '--quiet', '--bare', '--initial-branch=main', dir]);
  return true;
}

/**
 * The repo Letta Code's local backend makes in an agent's memory dir that has none: `git init` and HEAD on main
 * (initializeLocalMemoryRepo, letta-code src/agent/memory-git.ts @ v0.30.29). No first commit: Letta Code adds its
 * own only when there is no HEAD, and a backup restored here is that HEAD.
 */
export async function initLocalCheckout(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await git(['init', '--quiet', dir]);
  await git(['symbolic-ref', 'HEAD', 'refs/heads/main'], { cwd: dir });
}

export type BackupResult = 'restored' | 'backed up' | 'up to date' | 'nothing yet';

/**
 * A checkout whose remote is a bare repo on this machine, made to hold its whole history: main pushed there, or, in
 * a checkout with no commit yet, restored from there. The push runs no hooks: the backup takes every file, and the
 * hooks are for the pushes that come after. A main that diverged from the backup's is an error, not overwritten.
 */
export async function syncLocalBackup(workTree: string): Promise<BackupResult> {
  const opt = { cwd: workTree, allowFailure: true };
  const local = (await git(['rev-parse', '--verify', '--quiet', 'refs/heads/main'], opt)).stdout.trim();
  const fetched = await git(['fetch', '--quiet', 'origin', '+refs/heads/main:refs/remotes/origin/main'], opt);
  const remote = fetched.exitCode === 0 ? (await git(['rev-parse', '--verify', '--quiet', 'refs/remotes/origin/main'], opt)).stdout.trim() : '';
  if (!local) {
    if (!remote) return 'nothing yet';
    await git(['reset', '--quiet', '--hard', remote], { cwd: workTree });
    return 'restored';
  }
  if (local === remote) return 'up to date';
  await git(['push', '--no-verify', '--quiet', 'origin', 'refs/heads/main:refs/heads/main'], { cwd: workTree });
  return 'backed up';
}
