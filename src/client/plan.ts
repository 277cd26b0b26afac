/** Pure decisions of client `init`: which agent, which URLs to redirect, and the git config that does it. */
import { agentIdFromLettaUrl, isAgentId, isLettaGitUrl, validateAgentId } from '../core/agent-id.js';
import { USAGE } from '../core/config/values.js';
import type { Config } from '../core/config/schema.js';
import { UserError } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';
import { remoteKind, renderRemote } from '../core/template.js';
import type { DesiredConfig } from '../git/config.js';
import { checkHttpRemote, headerScope } from '../core/remote-scope.js';

export interface AgentSources {
  /** `--agent` */
  flag?: string;
  /** The checkout's raw `remote.origin.url` (not rewritten by insteadOf). */
  originUrl?: string;
  /** `letta.agentId` from the checkout's git config (Letta Code keeps it in sync, letta-code src/agent/memory-git.ts @ v0.30.28). */
  gitConfig?: string;
}

export interface ResolvedAgent {
  agentId: string;
  source: string;
}

/**
 * The agent id, from --agent, the origin URL or `letta.agentId`; sources that disagree are an error rather than a
 * guess, since redirecting one agent's checkout to another agent's repo would mix their memories.
 */
export function resolveAgent(src: AgentSources, configured: readonly string[]): ResolvedAgent | undefined {
  if (src.flag !== undefined) validateAgentId(src.flag, '--agent', USAGE);
  if (src.gitConfig !== undefined && !isAgentId(src.gitConfig)) {
    throw new UserError('git config letta.agentId is not an agent-<uuid>', 'fix it with git config letta.agentId <id>, or pass --agent <id>', USAGE);
  }
  const fromOrigin = src.originUrl ? agentIdFromLettaUrl(src.originUrl) : undefined;
  if (src.originUrl && isLettaGitUrl(src.originUrl) && !fromOrigin) {
    throw new UserError(`origin ${redactUrl(src.originUrl)} names no valid agent id`, 'set origin to <letta>/v1/git/agent-<uuid>/state.git, or pass --agent <id>');
  }
  const found: ResolvedAgent[] = [];
  if (src.flag) found.push({ agentId: src.flag, source: '--agent' });
  if (fromOrigin) found.push({ agentId: fromOrigin, source: 'the origin URL' });
  if (src.gitConfig) found.push({ agentId: src.gitConfig, source: 'git config letta.agentId' });
  const clash = found.find((f) => f.agentId !== found[0].agentId);
  if (clash) {
    throw new UserError(
      `${found[0].source} says ${found[0].agentId} but ${clash.source} says ${clash.agentId}`,
      'run init in the checkout of the agent you mean (~/.letta/agents/<agentId>/memory), or pass the matching --agent',
    );
  }
  const chosen = found[0];
  if (chosen && configured.length > 0 && !configured.includes(chosen.agentId)) {
    throw new UserError(
      `unknown agent ${chosen.agentId} (from ${chosen.source}): not in the configured agents`,
      `add it to "agents" in your letta-memfs-hooks config, or run init in one of: ${configured.join(', ')}`,
    );
  }
  return chosen;
}

/**
 * Letta URLs this checkout's origin may hold, each redirected: the origin as it is now, and the URL Letta Code
 * would repair it to: `{base}/v1/git/{agentId}/state.git` with base `LETTA_MEMFS_BASE_URL` (>= 0.24.1) or
 * `LETTA_BASE_URL` (0.19.x) (letta-code src/agent/memoryGit.ts @ v0.19.5, src/agent/memory-git.ts @ v0.30.28).
 */
export function lettaUrlsFor(agentId: string, originUrl: string | undefined, bases: readonly (string | undefined)[]): string[] {
  const urls: string[] = [];
  if (originUrl && isLettaGitUrl(originUrl) && agentIdFromLettaUrl(originUrl) === agentId) urls.push(originUrl);
  for (const b of bases) {
    if (!b) continue;
    const u = `${b.replace(/\/+$/, '')}/v1/git/${agentId}/state.git`;
    if (!urls.includes(u)) urls.push(u);
  }
  return urls;
}

export interface ClientPlan {
  agentId: string;
  externalUrl: string;
  kind: 'https' | 'ssh' | 'file';
  lettaUrls: string[];
}

export function planClient(agentId: string, config: Config, lettaUrls: string[]): ClientPlan {
  if (!config.remote) {
    throw new UserError('no external remote configured', "pass --remote 'https://git.example.com/agents/{agentId}.git' (or --local for a bare repo on this machine), or set LETTA_MEMFS_GIT_URL", USAGE);
  }
  const externalUrl = renderRemote(config.remote, agentId);
  const kind = remoteKind(externalUrl);
  if (!kind) throw new UserError(`remote ${redactUrl(externalUrl)} is not a git URL`, 'use an https:// or ssh URL');
  if (kind === 'https') checkHttpRemote(externalUrl);
  if (isLettaGitUrl(externalUrl)) {
    throw new UserError(`remote ${redactUrl(externalUrl)} is a Letta /v1/git/ URL`, 'point --remote at your own git host');
  }
  return { agentId, externalUrl, kind, lettaUrls };
}

/**
 * `includeIf.gitdir:` keys that pull the auth file into this repo's config: one for the main work tree, whose git dir
 * is the common dir itself, one for linked worktrees (`<common dir>/worktrees/<name>`, e.g. Letta Code's reflection
 * worktrees). A pattern ending in `/` gets `**` appended and does not match the directory itself (git 2.39), hence
 * two. Sections of their own, so a user's `[include]` paths are never rewritten.
 */
export function authIncludeKeys(commonDir: string | undefined): string[] {
  if (!commonDir) return [];
  const d = commonDir.replace(/\/+$/, '');
  return [`includeIf.gitdir:${d}.path`, `includeIf.gitdir:${d}/worktrees/.path`];
}

/**
 * The checkout's git config. `url.<external>.insteadOf` rewrites fetch, pull and push and survives Letta Code's
 * origin repair, unlike `remote.origin.pushurl`, which it unsets on every sync (facts file, section 2).
 * For HTTPS, an empty `http.<external host as written>.extraHeader` (remote-scope.ts) drops Letta Code's API key
 * header for that host, and the auth include (credentials.ts) sets ours at the more specific repo URL. git applies a URL-scoped key only when it is
 * at least as specific as the ones seen before (urlmatch.c), so the two work in either order in the file, and without
 * the include (deleted, moved) the key still never reaches the host: git gets a 401 instead.
 */
export function clientGitConfig(plan: ClientPlan, auth?: { commonDir: string; file: string }): DesiredConfig {
  const cfg: DesiredConfig = { [`url.${plan.externalUrl}.insteadOf`]: plan.lettaUrls };
  if (plan.kind === 'https') {
    cfg[`http.${headerScope(plan.externalUrl)}.extraHeader`] = [''];
    if (auth) for (const key of authIncludeKeys(auth.commonDir)) cfg[key] = [auth.file];
  }
  return cfg;
}
