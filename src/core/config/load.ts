import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { codeNames, dataNames, isDataFileName, conventionalNames, MODULE_NAME, packageJsonWithKey, presentIn, readDataFile } from './data-file.js';
import { type Config, mergeLayers, validateLayer } from './schema.js';
import { USAGE } from './values.js';

export { MODULE_NAME };

/** Where the user-level config lives: `$XDG_CONFIG_HOME/letta-memfs-hooks/` (default `~/.config/...`). */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), MODULE_NAME);
}

/** A directory whose config files are not read, and why: each one found there is named in a warning. */
export interface NotReadIn {
  dir: string;
  /** Names looked for (relative to dir). */
  names: readonly string[];
  /** Also a package.json with a "letta-memfs-hooks" key. */
  packageJson?: boolean;
  why: string;
}

export interface LoadOptions {
  /** The repo-level layer: data files, first found wins (client: in the git dir; server: in the memfs root). */
  repoFiles: readonly string[];
  /** An explicit config file (`--config`), replacing the repo-level files; JSON or YAML only. */
  configFile?: string;
  /** Places checked only to warn about config files there (never read, never run). */
  notReadIn?: readonly NotReadIn[];
  env?: NodeJS.ProcessEnv;
  flags?: Partial<Config>;
}

export interface LoadedConfig {
  config: Config;
  /** Files that contributed, for `status` and error messages. */
  files: string[];
  /** Warning lines about config files that were found but ignored; the caller prints them when it starts writing. */
  ignored: string[];
}

/**
 * Layers, lowest first: user config dir, repo-level file, environment, flags. Nothing is ever executed: config is
 * JSON or YAML data (data-file.ts), and code-format files are reported, not loaded.
 */
export async function loadConfig(opts: LoadOptions): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const files: string[] = [];
  const layers: Partial<Config>[] = [];
  const userDir = userConfigDir(env);
  const notReadIn: NotReadIn[] = [
    { dir: userDir, names: codeNames('config'), why: `code config is never run; convert it to ${path.join(userDir, 'config.json')} or config.yaml` },
    ...(opts.notReadIn ?? []),
  ];

  const user = await firstDataFile(dataNames('config').map((n) => path.join(userDir, n)));
  if (opts.configFile) checkConfigFileName(opts.configFile);
  const repo = opts.configFile
    ? await readLayer(path.resolve(opts.configFile), true)
    : await firstDataFile(opts.repoFiles);
  for (const found of [user, repo]) {
    if (!found) continue;
    files.push(found.file);
    layers.push(found.layer);
  }
  layers.push(envLayer(env));
  if (opts.flags) layers.push(validateLayer(dropUndefined(opts.flags), 'command-line flags'));
  const config = mergeLayers(layers);
  return { config, files, ignored: await ignoredWarnings(notReadIn) };
}

/** `--config` must name a JSON or YAML file: code config is never run, and init --server writes JSON there. */
export function checkConfigFileName(file: string): void {
  if (!isDataFileName(file)) {
    throw new UserError(`--config ${file}: only JSON or YAML config files are read (code config is never run)`, 'convert it to a .json or .yaml file', USAGE);
  }
}

async function firstDataFile(candidates: readonly string[]): Promise<{ file: string; layer: Partial<Config> } | undefined> {
  for (const file of candidates) {
    const found = await readLayer(file);
    if (found) return found;
  }
  return undefined;
}

async function readLayer(file: string, required = false): Promise<{ file: string; layer: Partial<Config> } | undefined> {
  const raw = await readDataFile(file);
  if (raw === undefined) {
    if (required) throw new UserError(`cannot read config ${file}: no such file`, 'check the --config path', USAGE);
    return undefined;
  }
  return { file, layer: validateLayer(raw, file, { baseDir: path.dirname(file) }) };
}

async function ignoredWarnings(places: readonly NotReadIn[]): Promise<string[]> {
  const lines: string[] = [];
  for (const p of places) {
    const found = await presentIn(p.dir, p.names);
    const pkg = p.packageJson ? await packageJsonWithKey(p.dir) : undefined;
    if (pkg) found.push(`${pkg} ("${MODULE_NAME}" key)`);
    if (found.length > 0) lines.push(`ignored ${found.join(', ')}: ${p.why}`);
  }
  return lines;
}

/** The client's repo-level config: in the checkout's git dir, where no pull, push or agent can write it. */
export function clientRepoFiles(commonDir: string): string[] {
  return dataNames(path.join(commonDir, MODULE_NAME));
}

/** The memory checkout's work tree: every config name is ignored there, data too (the memory repo is untrusted). */
export function checkoutNotRead(workTree: string, commonDir: string): NotReadIn {
  return {
    dir: workTree,
    names: conventionalNames(),
    packageJson: true,
    why:
      'config is not read from the memory checkout, whose files come from the memory repo (agents and anyone with push access write them); ' +
      `move the settings to ${path.join(commonDir, `${MODULE_NAME}.json`)} or your user config dir`,
  };
}

/** The server's memfs root: `.letta-memfs-hooksrc.{json,yaml,yml}` are read, every other config name is ignored. */
export function serverRepoFiles(memfsRoot: string): { files: string[]; notRead: NotReadIn } {
  const read = dataNames(`.${MODULE_NAME}rc`);
  return {
    files: read.map((n) => path.join(memfsRoot, n)),
    notRead: {
      dir: memfsRoot,
      names: conventionalNames().filter((n) => !read.includes(n)),
      packageJson: true,
      why: `only ${read.join(', ')} are read there, as JSON or YAML data; code config is never run`,
    },
  };
}

/** The environment layer: `LETTA_MEMFS_GIT_URL` (with `{agentId}`), `LETTA_BASE_URL`, `LETTA_USER_ID`, `LETTA_MEMFS_ROOT`, `LETTA_MEMFS_POKE_URL`,
 * `LETTA_MEMFS_SERVER_MODE` (a container sets the mode of every process it runs with it), `LETTA_MEMFS_CREATE_REPOS`. */
export function envLayer(env: NodeJS.ProcessEnv): Partial<Config> {
  return validateLayer(
    dropUndefined({
      remote: env.LETTA_MEMFS_GIT_URL || undefined,
      lettaUrl: env.LETTA_BASE_URL || undefined,
      lettaUserId: env.LETTA_USER_ID || undefined,
      memfsRoot: env.LETTA_MEMFS_ROOT || undefined,
      pokeUrl: env.LETTA_MEMFS_POKE_URL || undefined,
      serverMode: env.LETTA_MEMFS_SERVER_MODE || undefined,
      createRepos: env.LETTA_MEMFS_CREATE_REPOS || undefined,
    }),
    'environment',
  );
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
