import os from 'node:os';
import path from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { UserError } from '../errors.js';
import { type Config, mergeLayers, validateLayer } from './schema.js';

export const MODULE_NAME = 'letta-memfs-hooks';

/** Where the user-level config lives: `$XDG_CONFIG_HOME/letta-memfs-hooks/` (default `~/.config/...`). */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), MODULE_NAME);
}

export interface LoadOptions {
  /** The repo (work tree or memfs root) whose config files apply. */
  dir: string;
  /** An explicit config file (`--config`), replacing the repo search. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Partial<Config>;
}

export interface LoadedConfig {
  config: Config;
  /** Files that contributed, for `status` and error messages. */
  files: string[];
}

export async function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const files: string[] = [];
  const layers: Partial<Config>[] = [];

  const userDir = userConfigDir(env);
  const user = await readLayer(
    cosmiconfig(MODULE_NAME, {
      searchStrategy: 'none',
      searchPlaces: ['config.json', 'config.yaml', 'config.yml', 'config.js', 'config.cjs', 'config.mjs'],
    }),
    userDir,
  );
  if (user) {
    files.push(user.file);
    layers.push(user.layer);
  }

  const repo = opts.configFile
    ? await readLayer(cosmiconfig(MODULE_NAME), opts.configFile, true)
    : await readLayer(cosmiconfig(MODULE_NAME, { searchStrategy: 'none' }), opts.dir);
  if (repo) {
    files.push(repo.file);
    layers.push(repo.layer);
  }

  layers.push(envLayer(env));
  if (opts.flags) layers.push(validateLayer(dropUndefined(opts.flags), 'command-line flags'));
  return { config: mergeLayers(layers), files };
}

async function readLayer(
  explorer: ReturnType<typeof cosmiconfig>,
  where: string,
  isFile = false,
): Promise<{ file: string; layer: Partial<Config> } | undefined> {
  let result;
  try {
    result = isFile ? await explorer.load(where) : await explorer.search(where);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UserError(`cannot read config ${isFile ? where : `in ${where}`}: ${msg}`, 'fix the file syntax (JSON/YAML/JS)');
  }
  if (!result || result.isEmpty) return undefined;
  return { file: result.filepath, layer: validateLayer(result.config, result.filepath) };
}

/** The environment layer: `LETTA_MEMFS_GIT_URL` (with `{agentId}`), `LETTA_BASE_URL`, `LETTA_USER_ID`, `LETTA_MEMFS_ROOT`, `LETTA_MEMFS_POKE_URL`. */
export function envLayer(env: NodeJS.ProcessEnv): Partial<Config> {
  return validateLayer(
    dropUndefined({
      remote: env.LETTA_MEMFS_GIT_URL || undefined,
      lettaUrl: env.LETTA_BASE_URL || undefined,
      lettaUserId: env.LETTA_USER_ID || undefined,
      memfsRoot: env.LETTA_MEMFS_ROOT || undefined,
      pokeUrl: env.LETTA_MEMFS_POKE_URL || undefined,
    }),
    'environment',
  );
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
