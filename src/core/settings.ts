import path from 'node:path';
import type { Config } from './config/schema.js';
import { UserError } from './errors.js';
import { readSmallFile, writeFileAtomic } from './fs.js';
import { selfCommand } from './self-command.js';

export type Role = 'client' | 'server';

/**
 * What `init` resolved for one repo, read by its hooks so that a hook never searches for or parses config files.
 * Holds no secrets: the config only names the env vars and files that hold them.
 */
export interface Settings {
  version: 1;
  role: Role;
  agentId: string;
  /** The rendered external remote URL for this agent. */
  remote: string;
  config: Config;
  /** Client: `local` for a Letta Code local-backend checkout (no Letta origin; we push and pull it ourselves). */
  backend?: 'local';
}

/** Everything of ours in a repo lives in `<common git dir>/letta-memfs/`; uninstall removes it. */
export function stateDirOf(commonDir: string): string {
  return path.join(commonDir, 'letta-memfs');
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  const text = readSmallFile(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`${file} is corrupt`, `re-run ${selfCommand()} init`);
  }
}

export function writeSettings(stateDir: string, settings: Settings): Promise<void> {
  return writeJsonAtomic(path.join(stateDir, 'settings.json'), settings);
}

export function readSettings(stateDir: string): Promise<Settings | undefined> {
  return readJson<Settings>(path.join(stateDir, 'settings.json'));
}
