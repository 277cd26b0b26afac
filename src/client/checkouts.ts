/**
 * Every Letta Code memory checkout of this user, for `init --all`: `~/.letta/agents/<agentId>/memory` (letta-code
 * src/agent/memory-git.ts @ v0.30.28, getMemoryRepoDir), the local backend's
 * `<LETTA_LOCAL_BACKEND_DIR and ~/.letta/lc-local-backend>/memfs/<agentId>/memory` (local-backend.ts), and the remote
 * templates those already set up recorded.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAgentId } from '../core/agent-id.js';
import { readSettings, stateDirOf } from '../core/settings.js';
import { localBackendDir } from './local-backend.js';

export interface Checkout {
  agentId: string;
  dir: string;
}

export function agentsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.HOME || os.homedir(), '.letta', 'agents');
}

/** Where init --all looks: the Letta-server agents dir, then the local backend's memfs dirs (both when the env names another). */
export function checkoutRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  const local = [localBackendDir(env, home), localBackendDir({}, home)].map((d) => path.join(d, 'memfs'));
  return [...new Set([agentsDir(env), ...local])];
}

/** Checkouts with a `.git`, sorted by agent id within each root; other directories are not Letta Code's and are left alone. */
export async function findCheckouts(env: NodeJS.ProcessEnv = process.env): Promise<Checkout[]> {
  const out: Checkout[] = [];
  for (const root of checkoutRoots(env)) {
    const names = await fs.readdir(root).catch(() => [] as string[]);
    for (const name of names.filter(isAgentId).sort()) {
      const dir = path.join(root, name, 'memory');
      if (await fs.stat(path.join(dir, '.git')).then(() => true, () => false)) out.push({ agentId: name, dir });
    }
  }
  return out;
}

/** The one remote template the set-up checkouts agree on (agents created later get the same), else undefined. */
export async function sharedRecordedRemote(checkouts: readonly Checkout[]): Promise<string | undefined> {
  const found = new Set<string>();
  for (const c of checkouts) {
    const s = await readSettings(stateDirOf(path.join(c.dir, '.git'))).catch(() => undefined);
    if (s?.role === 'client' && s.config.remote) found.add(s.config.remote);
  }
  return found.size === 1 ? [...found][0] : undefined;
}
