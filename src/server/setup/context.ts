import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { loadConfig, serverRepoFiles } from '../../core/config/load.js';
import { warn } from '../../core/log.js';
import { UserError } from '../../core/errors.js';
import { readSettings, stateDirOf } from '../../core/settings.js';
import { defaultMemfsRoot } from '../../core/user-state.js';
import type { AgentRepo } from '../repo/discover.js';
import { type LettaClientOptions, lettaOptionsFromConfig } from '../letta/letta-api.js';
import { selfCommand } from '../../core/self-command.js';

/** What every server command needs: the resolved config, where the repos are, and how to reach Letta. */
export interface ServerContext {
  config: Config;
  memfsRoot: string;
  letta: LettaClientOptions;
}

export interface ServerFlags {
  memfsRoot?: string;
  configFile?: string;
  lettaUrl?: string;
  remote?: string;
}

/** Config layers for the server role: the repo-level config file is looked for in the memfs root. */
export async function loadServerContext(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): Promise<ServerContext> {
  const fallback = (flags.memfsRoot ?? env.LETTA_MEMFS_ROOT) ? undefined : await defaultMemfsRoot(env);
  const dir = flags.memfsRoot ?? env.LETTA_MEMFS_ROOT ?? fallback?.root ?? process.cwd();
  const { files, notRead } = serverRepoFiles(dir);
  const { config, ignored } = await loadConfig({
    repoFiles: files,
    notReadIn: [notRead],
    configFile: flags.configFile,
    env,
    flags: { memfsRoot: flags.memfsRoot, lettaUrl: flags.lettaUrl, remote: flags.remote },
  });
  ignored.forEach((line) => warn(line));
  config.memfsRoot ??= fallback?.root;
  if (!config.memfsRoot) {
    throw new UserError(
      'no memfs root given, and ~/.letta/memfs does not exist',
      'pass --memfs-root /path/to/.letta/memfs once to init --server (it is remembered), or set LETTA_MEMFS_ROOT',
      2,
    );
  }
  return { config, memfsRoot: path.resolve(config.memfsRoot), letta: lettaOptionsFromConfig(config, env) };
}

/**
 * The context a hook (or the background sync it starts) works in: the settings `init --server` recorded in
 * `repo.git/letta-memfs/settings.json`, so a hook never searches for config files.
 */
export async function contextFromRepo(gitDir: string, env: NodeJS.ProcessEnv = process.env): Promise<{ ctx: ServerContext; repo: AgentRepo }> {
  const abs = path.resolve(gitDir);
  const settings = await readSettings(stateDirOf(abs));
  if (!settings || settings.role !== 'server') {
    throw new UserError(`${abs} is not set up for the server role`, `run ${selfCommand()} init --server`);
  }
  const orgDir = path.dirname(path.dirname(abs));
  const memfsRoot = settings.config.memfsRoot ?? path.dirname(path.dirname(orgDir));
  return {
    ctx: { config: settings.config, memfsRoot, letta: lettaOptionsFromConfig(settings.config, env) },
    repo: { agentId: settings.agentId, orgId: path.basename(orgDir), gitDir: abs },
  };
}
