import path from 'node:path';
import type { Config } from '../core/config/schema.js';
import { UserError } from '../core/errors.js';
import { stateDirOf, writeSettings } from '../core/settings.js';
import { hasPlaceholder, renderRemote } from '../core/template.js';
import type { DesiredConfig } from '../install/git-config.js';
import { install } from '../install/installer.js';
import { type AgentRepo, type Discovery, discoverAgents, selectAgents } from './discover.js';
import { MAIN, readRef } from './refs.js';
import { REMOTE_NAME, TRACKING_REF } from './remote-auth.js';
import { readSyncState, writeSyncState } from './sync-state.js';

/**
 * Hooks for the server role. A fetch into repo.git fires only reference-transaction (facts file, section 3);
 * post-merge and post-checkout serve operators who keep a working checkout of repo.git and `git pull` in it.
 */
export const SERVER_HOOKS = ['reference-transaction', 'post-merge', 'post-checkout'] as const;

/**
 * The repo.git config the server role needs. `gc.auto=0`: an auto gc inside the server's temp copy can pack refs
 * and leave a stale loose `refs/heads/main` in storage that hides the new commit (facts file, section 1). No
 * `receive.denyCurrentBranch`: we fetch into repo.git and never push into it, so it stays at git's refusal.
 */
export function serverRepoConfig(remoteUrl: string): DesiredConfig {
  return {
    [`remote.${REMOTE_NAME}.url`]: [remoteUrl],
    [`remote.${REMOTE_NAME}.fetch`]: [`+refs/heads/main:${TRACKING_REF}`],
    'gc.auto': ['0'],
  };
}

export interface InitServerOptions {
  /** Resolved config: needs `remote` (with `{agentId}` for more than one agent) and `memfsRoot`. */
  config: Config;
  /** Agent ids (`--agent`), or every repo under the root (`--all`, the default when none are given). */
  agents?: readonly string[] | 'all';
  /** Node binary for the hook shims (default: the running one). */
  node?: string;
  /** Agents set up at once; git calls dominate, so a few per core. */
  concurrency?: number;
}

export interface InitServerAgent {
  agentId: string;
  gitDir: string;
  remote: string;
  /** main at install when there was no sync record yet (see `initAgent`). */
  baseline?: string;
}

export interface InitServerResult {
  memfsRoot: string;
  agents: InitServerAgent[];
  skipped: Discovery['skipped'];
  elapsedMs: number;
}

/** Rejects a config that cannot serve the server role, with the flag that fixes it. */
export function checkServerConfig(config: Config): { memfsRoot: string; remote: string } {
  if (!config.memfsRoot) {
    throw new UserError('no memfs root given', 'pass --memfs-root /path/to/.letta/memfs (or set memfsRoot / LETTA_MEMFS_ROOT)');
  }
  if (!config.remote) {
    throw new UserError('no external remote given', "pass --remote 'https://git.example.com/agents/{agentId}.git'");
  }
  return { memfsRoot: config.memfsRoot, remote: config.remote };
}

/**
 * Sets up one agent repo: remote, gc.auto, hook files (through the shared installer; never `core.hooksPath` or
 * `hook.*` config, which the server's temp copies would carry along and run), and settings for the hooks.
 * Idempotent. With no sync record yet, main is recorded as synced: the Letta server wrote it from Postgres.
 * (`letta-memfs-hooks sync --all --force` resyncs when that assumption does not hold.)
 */
export async function initAgent(repo: AgentRepo, config: Config, node?: string): Promise<InitServerAgent> {
  const { remote: template } = checkServerConfig(config);
  const remote = renderRemote(template, repo.agentId);
  await install({
    repo: { gitDir: repo.gitDir, commonDir: repo.gitDir },
    role: 'server',
    hooks: SERVER_HOOKS,
    config: serverRepoConfig(remote),
    node,
  });
  await writeSettings(stateDirOf(repo.gitDir), { version: 1, role: 'server', agentId: repo.agentId, remote, config });
  const out: InitServerAgent = { agentId: repo.agentId, gitDir: repo.gitDir, remote };
  const state = await readSyncState(repo.gitDir);
  if (!state.lastSynced && !state.pending) {
    const head = await readRef(repo.gitDir, MAIN);
    if (head) {
      await writeSyncState(repo.gitDir, { ...state, lastSynced: head, lastSyncedAt: new Date().toISOString() });
      out.baseline = head;
    }
  }
  return out;
}

/** Runs `fn` over `items`, `limit` at a time, keeping order in the result. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** `init --server`: every agent repo under the memfs root (or the given ones). */
export async function initServer(opts: InitServerOptions): Promise<InitServerResult> {
  const started = Date.now();
  const { memfsRoot, remote } = checkServerConfig(opts.config);
  const wanted = opts.agents ?? (opts.config.agents.length > 0 ? opts.config.agents : 'all');
  const discovery = await discoverAgents(memfsRoot);
  const repos = await selectAgents(memfsRoot, wanted);
  if (repos.length > 1 && !hasPlaceholder(remote)) {
    throw new UserError(`remote ${remote} has no {agentId} but ${repos.length} agents would share it`, "put {agentId} in the URL, or pass --agent <id>");
  }
  const agents = await mapLimit(repos, opts.concurrency ?? 8, (r) => initAgent(r, opts.config, opts.node));
  return { memfsRoot: path.resolve(memfsRoot), agents, skipped: discovery.skipped, elapsedMs: Date.now() - started };
}
