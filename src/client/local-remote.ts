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
