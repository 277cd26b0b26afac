/**
 * What the tool remembers for this user across runs, outside any repo: `$XDG_CONFIG_HOME/letta-memfs-hooks/state.json`
 * (default ~/.config/...). Today: the memfs root `init --server` was given, so later server commands need no
 * --memfs-root. Holds no secrets. Not a config file: nothing here is a setting the user writes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { userConfigDir } from './config/load.js';
import { readJson, writeJsonAtomic } from './settings.js';

export interface UserState {
  version: 1;
  memfsRoot?: string;
}

export const userStateFile = (env: NodeJS.ProcessEnv = process.env) => path.join(userConfigDir(env), 'state.json');

export async function readUserState(env: NodeJS.ProcessEnv = process.env): Promise<UserState> {
  return (await readJson<UserState>(userStateFile(env)).catch(() => undefined)) ?? { version: 1 };
}

export async function rememberMemfsRoot(memfsRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const state = await readUserState(env);
  if (state.memfsRoot === memfsRoot) return;
  await fs.mkdir(userConfigDir(env), { recursive: true });
  await writeJsonAtomic(userStateFile(env), { ...state, memfsRoot });
}

const isDir = (p: string) => fs.stat(p).then((s) => s.isDirectory(), () => false);

/**
 * The memfs root when none is given: the one `init --server` last recorded, else Letta's own default `~/.letta/memfs`
 * (letta/services/memory_repo/storage/local.py @ 0.16.7) when it exists.
 */
export async function defaultMemfsRoot(env: NodeJS.ProcessEnv = process.env): Promise<{ root: string; source: string } | undefined> {
  const remembered = (await readUserState(env)).memfsRoot;
  if (remembered && (await isDir(remembered))) return { root: remembered, source: `remembered in ${userStateFile(env)}` };
  const home = env.HOME || os.homedir();
  const lettaDefault = path.join(home, '.letta', 'memfs');
  if (await isDir(lettaDefault)) return { root: lettaDefault, source: "Letta's default" };
  return undefined;
}
