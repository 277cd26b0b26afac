/**
 * Runs the real git service for one request: `git upload-pack|receive-pack --stateless-rpc [--advertise-refs]`,
 * the programs `git http-backend` runs, without its CGI layer (we parse the request ourselves).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { GitService } from './route.js';

/**
 * Config for the spawned git, through git's environment (GIT_CONFIG_COUNT/KEY_n/VALUE_n): repo.git/config is never
 * edited, since Letta copies it into every temp clone it commits in (facts §1, §6). repo.git is the `.git` of a
 * non-bare repo (letta/services/memory_repo/git_operations.py @ 0.16.7 `create_repo`), so receive-pack refuses
 * to update the checked-out `main` unless denyCurrentBranch=ignore; without denyNonFastForwards a `push --force`
 * through the proxy overwrote newer server commits [ran]. fsckObjects refuses malformed objects and tree entries
 * such as `..` or `.git`. No auto-gc: a gc packing refs while Letta copies repo.git can hide its next commit (facts §1).
 */
export function serviceConfig(service: GitService, hooksDir: string | undefined): [string, string][] {
  const common: [string, string][] = [['gc.auto', '0']];
  if (service === 'git-upload-pack') return common;
  const receive: [string, string][] = [
    ...common,
    ['receive.denyCurrentBranch', 'ignore'],
    ['http.receivepack', 'true'],
    ['receive.denyNonFastForwards', 'true'],
    ['receive.denyDeletes', 'true'],
    ['receive.fsckObjects', 'true'],
    ['receive.autogc', 'false'],
  ];
  // Only for the receive-pack we spawn: hooks then come from our directory, not repo.git/hooks, and nothing is
  // written into repo.git/config (a config-driven hooksPath there would fire inside Letta's temp copies).
  if (hooksDir) receive.push(['core.hooksPath', hooksDir]);
  return receive;
}

/** The environment of the spawned git: ours, minus every inherited GIT_* variable, plus the config above. */
export function serviceEnv(
  base: NodeJS.ProcessEnv,
  config: readonly [string, string][],
  protocol: string | undefined,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('GIT_') && k !== 'LETTA_MEMFS_INTERNAL') env[k] = v;
  env.GIT_CONFIG_COUNT = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  if (protocol) env.GIT_PROTOCOL = protocol;
  // No prompts, ever: the service has no terminal.
  env.GIT_TERMINAL_PROMPT = '0';
  return { ...env, ...extra };
}

export interface BackendOptions {
  service: GitService;
  advertise: boolean;
  gitDir: string;
  protocol?: string;
  hooksDir?: string;
  /** Extra environment for the hooks (the pre-receive's channel to serve). */
  hookEnv?: Record<string, string>;
}

export function spawnBackend(opts: BackendOptions): ChildProcessWithoutNullStreams {
  const args = [opts.service.slice('git-'.length), '--stateless-rpc', ...(opts.advertise ? ['--advertise-refs'] : []), opts.gitDir];
  return spawn('git', args, {
    cwd: opts.gitDir,
    env: serviceEnv(process.env, serviceConfig(opts.service, opts.hooksDir), opts.protocol, opts.hookEnv),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
