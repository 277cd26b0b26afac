/**
 * `init` for a client checkout (`~/.letta/agents/<agentId>/memory`): redirect the Letta origin to the external host,
 * give git the host's credentials without the Letta key ever reaching it, install the hooks.
 * Everything is checked (config, agent id, remote reachable with the token) before anything is written, so bad input
 * leaves the repo as it was.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkoutNotRead, clientRepoFiles, loadConfig } from '../core/config/load.js';
import { type Config, mergeLayers, validateLayer } from '../core/config/schema.js';
import { UserError } from '../core/errors.js';
import { getConfig, git, gitReason, type RepoPaths, resolveRepo } from '../git/git.js';
import { NO_PROMPT_ENV, sshProblem } from '../git/ssh.js';
import { addSecret, warn } from '../core/log.js';
import { redactUrl } from '../core/redact.js';
import { remoteKind } from '../core/template.js';
import { readSettings, stateDirOf, writeSettings } from '../core/settings.js';
import type { DesiredConfig } from '../git/config.js';
import { hooksDirOf, install } from '../install/installer.js';
import { type BackupResult, ensureLocalRemote, initLocalCheckout, localRemoteTemplate, syncLocalBackup } from './local-remote.js';
import { readManifest } from '../install/manifest.js';
import { readToken } from '../core/token.js';
import { AUTH_FILE, authHeader, renderAuthFile, writeAuthFile } from './credentials.js';
import { authIncludeKeys, clientGitConfig, type ClientPlan, lettaUrlsFor, planClient, resolveAgent } from './plan.js';
import { ask, canPrompt } from './prompt.js';
import { selfCommand } from '../core/self-command.js';
import { isLocalAgentId } from '../core/agent-id.js';
import { checkLocalOrigin, localAgentFromPath, localBackendDir, localRemoteConfig } from './local-backend.js';

/** Hooks a client gets. Never pre-commit/post-commit: Letta Code rewrites those on every sync. */
/** Letta Code's default memfs base (letta-code src/auth/oauth.ts LETTA_CLOUD_API_URL @ v0.30.28). */
const LETTA_CLOUD_URL = 'https://api.letta.com';

export const CLIENT_HOOKS = ['pre-push', 'post-merge', 'post-checkout'] as const;
/**
 * A local-backend checkout also gets reference-transaction: Letta Code commits there and never pushes, so each new
 * commit of main starts a background push. Not post-commit: Letta Code rewrites it (facts file, section 2).
 */
export const LOCAL_CLIENT_HOOKS = [...CLIENT_HOOKS, 'reference-transaction'] as const;

export interface ClientInitOptions {
  repoDir: string;
  agent?: string;
  configFile?: string;
  flags: Partial<Config>;
  yes: boolean;
  verify: boolean;
  env?: NodeJS.ProcessEnv;
  /** `--local`: the remote is a bare repo per agent under ~/.letta/memfs-remote/ (local-remote.ts). */
  local?: boolean;
  /** `--dry-run`: resolve and check everything, return the plan, write nothing. */
  dryRun?: boolean;
  /** A remote template to use when neither flags, config nor this checkout's own record name one (`init --all`). */
  fallbackRemote?: string;
}

export interface ClientInitResult {
  repo: RepoPaths;
  plan: ClientPlan;
  config: Config;
  authFile?: string;
  tokenSource?: string;
  hooksDir: string;
  hooks: readonly string[];
  /** A Letta Code local-backend checkout. */
  local: boolean;
  /** Dry run: the git config init would write (null: unset); nothing was written. */
  planned?: DesiredConfig;
  /** The local bare remote was created by this run (`--local`). */
  createdLocalRemote?: boolean;
  /** Dry run with a path remote: init creates it (`--local`), finds it, or refuses because it is missing. */
  bareRemote?: 'create' | 'exists' | 'missing';
  /** A remote on this machine: what bringing it and main level did (local-remote.ts syncLocalBackup). */
  backup?: BackupResult;
  /** Whether this run changed anything in the checkout or its remote (a re-run over a set-up checkout does not). */
  changed: boolean;
}

async function existingDir(dir: string): Promise<string> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`${dir} does not exist`, 'run init inside the agent memory checkout, or pass --repo <checkout dir>');
  return dir;
}

/**
 * `git ls-remote` on the external URL exactly as Letta Code's calls will reach it: helpers cleared, our header only.
 * The header goes to git in its environment (GIT_CONFIG_COUNT, git >= 2.31, the client role's minimum), readable only
 * by this user like the 0600 auth file: no argv, and no temp file that a kill -9 would leave behind with the token.
 * The empty first value resets headers from elsewhere, as the auth file does (credentials.ts).
 */
async function verifyRemote(plan: ClientPlan, header: string | undefined, tokenSource: string | undefined, cwd: string): Promise<void> {
  const env: Record<string, string> = { ...NO_PROMPT_ENV };
  if (plan.kind === 'https' && header) {
    const key = `http.${plan.externalUrl}.extraHeader`;
    Object.assign(env, { GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: key, GIT_CONFIG_VALUE_0: '', GIT_CONFIG_KEY_1: key, GIT_CONFIG_VALUE_1: header });
  }
  const args = ['-c', 'credential.helper=', '-c', 'core.askPass=', 'ls-remote', '--heads', plan.externalUrl];
  const r = await git(args, { cwd, env, allowFailure: true, timeoutMs: 30_000 });
  // After a 401 git asks for a user name, which the cleared helpers and disabled prompt cannot give.
  if (r.exitCode !== 0 && header && /could not read Username|Authentication failed|\b401\b/.test(r.stderr)) {
    throw new UserError(`${redactUrl(plan.externalUrl)} refused the token from ${tokenSource}`, 'check the token and that gitUsername suits your host (--git-user), then re-run init');
  }
  const ssh = r.exitCode !== 0 ? sshProblem(r.stderr, plan.externalUrl) : undefined;
  if (ssh) throw new UserError(`cannot read ${redactUrl(plan.externalUrl)}: ${ssh.reason}`, ssh.fix);
  if (r.exitCode !== 0) {
    throw new UserError(
      `cannot read ${redactUrl(plan.externalUrl)}: ${gitReason(r.stderr) ?? `exit ${r.exitCode}`}`,
      plan.kind === 'file'
        ? `create it (git init --bare ${plan.externalUrl}), or pass --local for ~/.letta/memfs-remote/<agentId>.git, created by init`
        : lsRemoteFix(r.stderr, plan.kind),
    );
  }
}

async function bareRepoAt(url: string): Promise<boolean> {
  const dir = url.startsWith('file://') ? fileURLToPath(url) : url;
  return fs.stat(path.join(dir, 'HEAD')).then(() => true, () => false);
}

/** The agent this checkout belongs to: --agent, else origin's URL, letta.agentId or the local backend's path; asked when it can. */
async function agentOf(workTree: string, originUrl: string | undefined, flag: string | undefined, config: Config, env: NodeJS.ProcessEnv, interactive: boolean) {
  // A local-backend checkout names its agent in its path; Letta Code also sets letta.agentId there.
  // Both the env's storage dir and the default one (init --all looks in both).
  const storage = [...new Set([localBackendDir(env), localBackendDir({}, env.HOME || undefined)])];
  const resolved = await Promise.all(storage.map((s) => fs.realpath(s).catch(() => s)));
  const pathAgent = localAgentFromPath(await fs.realpath(workTree), [...storage, ...resolved]);
  const gitConfigAgent = await getConfig('letta.agentId', { cwd: workTree });
  if (pathAgent && gitConfigAgent && pathAgent !== gitConfigAgent) {
    throw new UserError(`the checkout path says ${pathAgent} but git config letta.agentId says ${gitConfigAgent}`, 'fix letta.agentId with git config letta.agentId <id>');
  }
  const sources = { originUrl, gitConfig: gitConfigAgent ?? pathAgent };
  let agent = resolveAgent({ flag, ...sources }, config.agents);
  if (!agent && interactive) {
    const answer = await ask('Agent id (agent-<uuid>): ');
    agent = resolveAgent({ flag: answer ?? '', ...sources }, config.agents);
  }
  if (!agent) {
    throw new UserError(
      'cannot tell which agent this checkout belongs to',
      'run init in ~/.letta/agents/<agentId>/memory (or ~/.letta/lc-local-backend/memfs/<agentId>/memory), or pass --agent <id>',
    );
  }
  return agent;
}

/** The https host's Authorization header from the token (asked, hidden, when it can), registered as a secret. */
async function hostAuth(plan: ClientPlan, config: Config, env: NodeJS.ProcessEnv, interactive: boolean): Promise<{ header: string; tokenSource: string }> {
  let tok = await readToken(config, env);
  if (!tok && interactive) {
    const answer = await ask(`Token for ${redactUrl(plan.externalUrl)} (input hidden; or export ${config.gitTokenEnv}): `, { secret: true });
    if (answer) tok = { token: answer, source: 'the prompt' };
  }
  if (!tok) {
    throw new UserError(
      `no token for ${redactUrl(plan.externalUrl)}`,
      `export ${config.gitTokenEnv}=<token> (or set gitTokenFile to a chmod 600 file) and re-run init`,
    );
  }
  addSecret(tok.token);
  const header = authHeader(config.gitUsername, tok.token);
  addSecret(header.slice('Authorization: Basic '.length));
  return { header, tokenSource: tok.source };
}

/** Pure: the fix for a failed `git ls-remote` of the remote, by what git said went wrong. */
export function lsRemoteFix(stderr: string, kind: ClientPlan['kind'] = 'https'): string {
  if (/Could not resolve host|Name or service not known|Temporary failure in name resolution/i.test(stderr)) {
    return "check the host name in the remote URL and this machine's DNS/network, or pass --no-verify";
  }
  if (/Connection refused|Connection timed out|Failed to connect|Network is unreachable|Operation timed out/i.test(stderr)) {
    return 'check that the git host is up and reachable from here (proxy, firewall), or pass --no-verify';
  }
  if (/certificate|SSL/i.test(stderr)) return "check the host's TLS certificate (git's http.sslCAInfo for a private CA), or pass --no-verify";
  return `create the repo on your git host and check that ${kind === 'ssh' ? 'your ssh key' : 'the token'} can read and write it, or pass --no-verify`;
}

export async function initClient(opts: ClientInitOptions): Promise<ClientInitResult> {
  const env = opts.env ?? process.env;
  const dir = path.resolve(opts.repoDir);
  // A local-backend agent's memory dir without a repo yet (a second machine, or a dir made by hand): with a local
  // remote, make the repo Letta Code would, and restore the backup into it below.
  const storage = localBackendDir(env);
  const storages = [storage, await fs.realpath(storage).catch(() => storage)];
  if (opts.local && !opts.dryRun && localAgentFromPath(dir, storages) && !(await fs.stat(path.join(dir, '.git')).catch(() => undefined))) {
    await initLocalCheckout(dir);
  }
  const repo = await resolveRepo({ cwd: await existingDir(dir) });
  if (!repo.workTree) throw new UserError(`${repo.gitDir} has no work tree`, 'run client init in a memory checkout; for a server repo.git use init --server');
  const stateDir = stateDirOf(repo.commonDir);
  const previous = await readManifest(stateDir);
  if (previous && previous.role !== 'client') {
    throw new UserError(`this repo is set up for the ${previous.role} role`, `run ${selfCommand()} uninstall first`);
  }
  const { config, ignored } = await loadConfig({
    repoFiles: clientRepoFiles(repo.commonDir),
    notReadIn: [checkoutNotRead(repo.workTree, repo.commonDir)],
    configFile: opts.configFile,
    env,
    flags: opts.flags,
  });
  const interactive = canPrompt(opts.yes);

  const originUrl = await getConfig('remote.origin.url', { cwd: repo.workTree });
  const agent = await agentOf(repo.workTree, originUrl, opts.agent, config, env, interactive);
  const local = isLocalAgentId(agent.agentId);
  // Zero-config and re-runs (issue 10): --local, else the remote this checkout recorded, else the caller's fallback.
  const before = await readSettings(stateDir).catch(() => undefined);
  let localRemote = Boolean(opts.local);
  if (!localRemote && !config.remote) config.remote = before?.config.remote ?? opts.fallbackRemote;
  if (!localRemote && !config.remote && interactive) {
    const offer = await ask(`No remote configured. Use a local bare repo per agent (${localRemoteTemplate(env)})? [Y/n] `);
    localRemote = !offer || /^y/i.test(offer);
    if (!localRemote) {
      const answer = await ask('External git URL (https://host/owner/{agentId}.git): ');
      if (answer) config.remote = mergeLayers([config, validateLayer({ remote: answer }, 'your answer')]).remote;
    }
  }
  if (localRemote) config.remote = localRemoteTemplate(env);
  // Letta Code >= 0.24.1 re-creates a missing origin from LETTA_MEMFS_BASE_URL, else Letta Cloud
  // (maybeUpdateMemoryRemoteOrigin, letta-code src/agent/memory-git.ts @ v0.30.28): redirect that URL too.
  // A local-backend agent has no Letta origin at all: nothing to redirect, origin itself is the external host.
  const lettaUrls = local ? [] : lettaUrlsFor(agent.agentId, originUrl, [config.lettaUrl, env.LETTA_MEMFS_BASE_URL, LETTA_CLOUD_URL]);
  const plan = planClient(agent.agentId, config, lettaUrls);
  if (local) checkLocalOrigin(originUrl, plan.externalUrl, before?.remote);

  const { header, tokenSource } = plan.kind === 'https' ? await hostAuth(plan, config, env, interactive) : {};
  const createdLocalRemote = localRemote && !opts.dryRun ? await ensureLocalRemote(plan.externalUrl) : undefined;
  if (opts.verify && !opts.dryRun) await verifyRemote(plan, header, tokenSource, repo.workTree);

  // Writes start here; warnings too, so that a refused init prints its one error line only.
  ignored.forEach((line) => warn(line));
  if (!local && originUrl && originUrl !== plan.externalUrl && !lettaUrls.includes(originUrl)) {
    warn(`origin is ${redactUrl(originUrl)}, not a Letta URL of this agent: left as it is; only Letta URLs are redirected`);
  }
  const commonDir = await fs.realpath(repo.commonDir);
  const authFile = header ? path.join(stateDir, AUTH_FILE) : undefined;
  const desired = clientGitConfig(plan, authFile ? { commonDir, file: authFile } : undefined);
  if (local) {
    delete desired[`url.${plan.externalUrl}.insteadOf`];
    Object.assign(desired, localRemoteConfig(plan.externalUrl));
  }
  if (before && before.remote !== plan.externalUrl) {
    // A new remote on re-init: drop the old one's rewrite and header reset, or two rewrites would claim the Letta URL.
    const old: ClientPlan = { ...plan, externalUrl: before.remote, kind: remoteKind(before.remote) ?? 'https' };
    for (const key of Object.keys(clientGitConfig(old, { commonDir, file: '' }))) {
      if (!(key in desired)) desired[key] = null;
    }
  }
  if (!header) for (const key of authIncludeKeys(commonDir)) desired[key] = null;
  const hooks = local ? LOCAL_CLIENT_HOOKS : CLIENT_HOOKS;
  if (opts.dryRun) {
    const bareRemote = plan.kind !== 'file' ? undefined : (await bareRepoAt(plan.externalUrl)) ? 'exists' : localRemote ? 'create' : 'missing';
    return { repo, plan, config, authFile, tokenSource, hooksDir: (await hooksDirOf(repo)).dir, hooks, local, planned: desired, bareRemote, changed: false };
  }
  const hooksDir = (await hooksDirOf(repo)).dir;
  const footprint = [path.join(repo.commonDir, 'config'), path.join(stateDir, 'settings.json'), path.join(stateDir, AUTH_FILE), ...hooks.map((h) => path.join(hooksDir, h))];
  const footprintBefore = await readAll(footprint);
  const manifest = await install({ repo, role: 'client', hooks, config: desired });
  if (before && before.remote !== plan.externalUrl) {
    // The tracking ref and the last push describe the old host: status would show them as the new one's.
    await git(['update-ref', '-d', 'refs/remotes/origin/main'], { cwd: repo.workTree, allowFailure: true });
    await Promise.all(['last-push', 'last-push.json'].map((f) => fs.rm(path.join(stateDir, f), { force: true })));
  }
  if (header && authFile) {
    await writeAuthFile(stateDir, renderAuthFile(plan.externalUrl, header, tokenSource ?? 'init'));
  } else {
    await fs.rm(path.join(stateDir, AUTH_FILE), { force: true });
  }
  await writeSettings(stateDir, { version: 1, role: 'client', agentId: plan.agentId, remote: plan.externalUrl, config, ...(local ? { backend: 'local' as const } : {}) });
  // The local bare repo (--local) is the backup: it gets the history now, not only the commits made from now on.
  const backup = config.remote === localRemoteTemplate(env) ? await syncLocalBackup(repo.workTree) : undefined;
  const changed = Boolean(createdLocalRemote) || backup === 'restored' || backup === 'backed up' || (await readAll(footprint)) !== footprintBefore;
  return { repo, plan, config, authFile, tokenSource, hooksDir: manifest.hooksDir, hooks, local, createdLocalRemote, backup, changed };
}

/** The bytes of the files init writes, as one string (missing ones as empty), to tell a re-run that changed nothing. */
async function readAll(files: readonly string[]): Promise<string> {
  return (await Promise.all(files.map((f) => fs.readFile(f, 'latin1').catch(() => '')))).join('\0');
}

const BACKUP_WORDS: Record<BackupResult, string> = {
  restored: 'restored from',
  'backed up': 'main pushed to',
  'up to date': 'already all in',
  'nothing yet': 'no commit yet, none in',
};

export function describeInit(r: ClientInitResult): string {
  const lines = [
    `set up ${r.plan.agentId} in ${r.repo.workTree}`,
    ...r.plan.lettaUrls.map((u) => `  redirect  ${redactUrl(u)} -> ${redactUrl(r.plan.externalUrl)}`),
    ...(r.local ? [`  origin    ${redactUrl(r.plan.externalUrl)} (local backend: each commit of main is pushed in the background; run ${selfCommand()} pull to merge other machines' commits)`] : []),
    r.authFile
      ? `  auth      token from ${r.tokenSource} in ${r.authFile} (0600; re-run init after rotating it)`
      : `  auth      ${{ https: 'none', ssh: "your ssh keys and known_hosts (ssh's own: ~/.ssh, ~/.ssh/config or GIT_SSH_COMMAND; nothing stored here)", file: 'none: a path on this machine (its file permissions apply)' }[r.plan.kind]}`,
    `  hooks     ${r.hooks.join(', ')} in ${r.hooksDir}`,
    ...(r.backup ? [`  history   ${BACKUP_WORDS[r.backup]} ${redactUrl(r.plan.externalUrl)}`] : []),
  ];
  if (r.config.pokeUrl) {
    lines.push(`  poke      ${redactUrl(r.config.pokeUrl)}/poke/${r.plan.agentId} after each push to main (signed with $${r.config.webhookSecretEnv})`);
  }
  return lines.join('\n');
}
