import { mapLimit } from '../../core/map-limit.js';
import fsSync from 'node:fs';
import path from 'node:path';
import type { Config } from '../../core/config/schema.js';
import { UserError } from '../../core/errors.js';
import { readSmallFile, writeFileAtomic } from '../../core/fs.js';
import { readSettings, type Settings, stateDirOf, writeSettings } from '../../core/settings.js';
import { hasPlaceholder, renderRemote } from '../../core/template.js';
import { type DesiredConfig, quoteConfigString } from '../../git/config.js';
import { noHooksPathOutsideRepos } from '../../git/hooks-path.js';
import { install } from '../../install/installer.js';
import { readManifest } from '../../install/manifest.js';
import { runtimeBase, useRuntime } from '../../install/runtime.js';
import { fillShim, readShimTemplate } from '../../install/shim.js';
import { selfCommand } from '../../core/self-command.js';
import { type AgentRepo, type Discovery, discoverAgents, selectAgents } from '../repo/discover.js';
import { MAIN, readRef } from '../../git/refs.js';
import { REMOTE_NAME, TRACKING_REF } from '../../git/remote-auth.js';
import { readSyncState, writeSyncState } from '../letta/sync-state.js';
import { ensureHostRepo, type EnsureOutcome } from '../../core/host-repo/ensure.js';

/**
 * Hooks for the server role. A fetch into repo.git fires only reference-transaction (facts file, section 3);
 * post-merge and post-checkout serve operators who keep a working checkout of repo.git and `git pull` in it.
 */
export const SERVER_HOOKS = ['reference-transaction', 'post-merge', 'post-checkout'] as const;

/** Our config file inside repo.git, pulled in by one `include.path` (relative: it resolves in Letta's temp copies). */
export const INCLUDED_CONFIG = 'letta-memfs/config';

/**
 * Pure: the config the server role needs, as the text of the included file. `gc.auto=0`: an auto gc inside the
 * server's temp copy can pack refs and leave a stale loose `refs/heads/main` in storage that hides the new commit
 * (facts file, section 1); the temp copy takes repo.git/config and this file along, so it applies there too.
 * `advice.ignoredHook=false`: the temp copy loses the hooks' exec bit, and git would print "hint: The
 * '.git/hooks/reference-transaction' hook was ignored ..." into the server log on every server commit. No
 * `receive.denyCurrentBranch`: we fetch into repo.git and never push into it. No hooks wiring (core.hooksPath,
 * hook.*): the temp copies would run them.
 */
export function serverConfigText(remoteUrl: string): string {
  return [
    '# Written by letta-memfs-hooks init --server (included from ../config); re-running init rewrites it.',
    `[remote "${REMOTE_NAME}"]`,
    `\turl = ${quoteConfigString(remoteUrl)}`,
    `\tfetch = +refs/heads/main:${TRACKING_REF}`,
    '[gc]',
    '\tauto = 0',
    '[advice]',
    '\tignoredHook = false',
    '',
  ].join('\n');
}

/**
 * What the installer records in repo.git/config: one include instead of a key per setting, because each recorded
 * key costs git processes, and `init --server` must set up 1,000 agents in seconds.
 */
export function serverRepoConfig(): DesiredConfig {
  return { 'include.path': [INCLUDED_CONFIG] };
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
  /** Called after each agent with the total (the CLI's progress line). */
  onAgentDone?: (total: number) => void;
}

export interface InitServerAgent {
  agentId: string;
  gitDir: string;
  remote: string;
  /** main at install when there was no sync record yet (see `initAgent`). */
  baseline?: string;
  /** With createRepos: the host repo was there, or was created now. */
  hostRepo?: EnsureOutcome;
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
    throw new UserError('no memfs root given', 'pass --memfs-root /path/to/.letta/memfs (or set memfsRoot / LETTA_MEMFS_ROOT)', 2);
  }
  if (!config.remote) {
    throw new UserError('no external remote given', "pass --remote 'https://git.example.com/agents/{agentId}.git'", 2);
  }
  return { memfsRoot: config.memfsRoot, remote: config.remote };
}

/**
 * Sets up one agent repo: remote, gc.auto, hook files (through the shared installer; never `core.hooksPath` or
 * `hook.*` config, which the server's temp copies would carry along and run), and settings for the hooks.
 * Idempotent. With no sync record yet, main is recorded as synced: the Letta server wrote it from Postgres.
 * (`letta-memfs-hooks sync --all --force` resyncs when that assumption does not hold.)
 */
export async function initAgent(repo: AgentRepo, config: Config, node?: string, noHooksPathOutside?: boolean): Promise<InitServerAgent> {
  const { remote: template } = checkServerConfig(config);
  const remote = renderRemote(template, repo.agentId);
  const included = path.join(repo.gitDir, INCLUDED_CONFIG);
  // Rendered (and so checked) before anything is written; written after the install, which is all or nothing, so a
  // failed run leaves no file behind (an include.path to a missing file is ignored by git).
  const text = serverConfigText(remote);
  // The host repo first: a refused creation (token scope) leaves this agent not set up, named in the error.
  const hostRepo = config.createRepos ? (await ensureHostRepo(remote, config)).outcome : undefined;
  const settings: Settings = { version: 1, role: 'server', agentId: repo.agentId, remote, config };
  // The hook runtime lives on the memfs volume with the repos (or under LETTA_MEMFS_RUNTIME_DIR); registering this
  // repo as its user every time keeps a runtime deleted by hand from being reused without it.
  const base = runtimeBase('server', config.memfsRoot);
  const runtime = await useRuntime(base, repo.gitDir);
  if (!(await upToDate(repo, settings, node ?? process.execPath, runtime))) {
    await install({
      repo: { gitDir: repo.gitDir, commonDir: repo.gitDir },
      role: 'server',
      hooks: SERVER_HOOKS,
      config: serverRepoConfig(),
      noHooksPathOutside,
      node,
      runtimeBase: base,
    });
    await writeSettings(stateDirOf(repo.gitDir), settings);
  }
  if (readSmallFile(included) !== text) await writeFileAtomic(included, text);
  const out: InitServerAgent = { agentId: repo.agentId, gitDir: repo.gitDir, remote, ...(hostRepo ? { hostRepo } : {}) };
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

/** JSON with object keys sorted: config layers merge in varying key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

const shimTexts = new Map<string, string>();
/** A runtime's shim template (readShimTemplate), read once per process (not once per hook per agent: 30,000 reads for a 10,000-agent re-run). */
function shimTemplate(runtimeDir: string): string {
  let t = shimTexts.get(runtimeDir);
  if (t === undefined) shimTexts.set(runtimeDir, (t = readShimTemplate(runtimeDir)));
  return t;
}

/**
 * Whether a repo already has exactly what `install` would write (manifest, hook shims, the include line, settings),
 * read from files only: a re-run of `init --server` over 1,000 agents then starts no git process at all.
 */
async function upToDate(repo: AgentRepo, settings: Settings, node: string, runtimeDir: string): Promise<boolean> {
  const stateDir = stateDirOf(repo.gitDir);
  const [manifest, current] = await Promise.all([readManifest(stateDir).catch(() => undefined), readSettings(stateDir).catch(() => undefined)]);
  const config = readSmallFile(path.join(repo.gitDir, 'config')) ?? '';
  if (!manifest || manifest.role !== 'server' || manifest.hooksDir !== path.join(repo.gitDir, 'hooks') || manifest.runtime !== runtimeDir) return false;
  if (!SERVER_HOOKS.every((h) => manifest.hooks.includes(h))) return false;
  if (canonical(current) !== canonical(settings)) return false;
  // A hooksPath (installer decides where hooks go then) or a missing include: leave it to the installer.
  if (/hookspath/i.test(config) || !new RegExp(`^\\s*path\\s*=\\s*${INCLUDED_CONFIG}\\s*$`, 'm').test(config)) return false;
  for (const hook of SERVER_HOOKS) {
    const file = path.join(repo.gitDir, 'hooks', hook);
    const st = fsSync.statSync(file, { throwIfNoEntry: false });
    if (!st || (st.mode & 0o111) === 0) return false;
    if (readSmallFile(file) !== fillShim(shimTemplate(runtimeDir), { hook, role: 'server', node, runtimeDir, stateDir, self: selfCommand() })) return false;
  }
  return true;
}

/** `init --server` without the CLI: every agent repo under the memfs root (or the given ones). */
export async function setupServer(opts: InitServerOptions): Promise<InitServerResult> {
  const started = Date.now();
  const { memfsRoot, remote } = checkServerConfig(opts.config);
  const wanted = opts.agents ?? (opts.config.agents.length > 0 ? opts.config.agents : 'all');
  const discovery = await discoverAgents(memfsRoot);
  const repos = await selectAgents(memfsRoot, wanted);
  if (repos.length > 1 && !hasPlaceholder(remote)) {
    throw new UserError(`remote ${remote} has no {agentId} but ${repos.length} agents would share it`, "put {agentId} in the URL, or pass --agent <id>");
  }
  // Checked once for the batch, so each repo's hooks dir is read from its config file, not asked of git (installer.ts).
  const noHooksPathOutside = repos.length > 0 && (await noHooksPathOutsideRepos({ gitDir: repos[0].gitDir }));
  const agents = await mapLimit(repos, opts.concurrency ?? 8, async (r) => {
    const a = await initAgent(r, opts.config, opts.node, noHooksPathOutside);
    opts.onAgentDone?.(repos.length);
    return a;
  });
  return { memfsRoot: path.resolve(memfsRoot), agents, skipped: discovery.skipped, elapsedMs: Date.now() - started };
}

/** Where `init --server` records its settings for `watch`, `pull` and `sync` (found by the memfs-root config search). */
export const serverConfigFile = (memfsRoot: string) => path.join(path.resolve(memfsRoot), '.letta-memfs-hooksrc.json');
