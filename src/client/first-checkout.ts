/**
 * A new machine's checkout, cloned from the host before `init` sets it up, so that Letta Code's first run finds the
 * agent's memory ready and makes no first commit of its own: a server agent's `~/.letta/agents/<id>/memory` with
 * origin set to the Letta URL Letta Code itself would have cloned (init then redirects it), a local-backend agent's
 * `<storage>/memfs/<id>/memory` with origin the host (as init sets it). The token reaches git through its
 * environment only (GIT_CONFIG_COUNT), never argv or the clone's config.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isAgentId, isLocalAgentId } from '../core/agent-id.js';
import type { Config } from '../core/config/schema.js';
import { UserError } from '../core/errors.js';
import { ensureHostRepo, type EnsureOutcome } from '../core/host-repo/ensure.js';
import { looksMissing, missingRepoError } from '../core/host-repo/missing.js';
import { addSecret } from '../core/log.js';
import { redactUrl } from '../core/redact.js';
import { remoteKind, renderRemote } from '../core/template.js';
import { readToken } from '../core/token.js';
import { git } from '../git/git.js';
import { agentsDir } from './checkouts.js';
import { authHeader } from './credentials.js';
import { localBackendDir } from './local-backend.js';

/** Where Letta Code keeps an agent's checkout on this machine. */
export function checkoutDirFor(agentId: string, env: NodeJS.ProcessEnv = process.env): string {
  return isLocalAgentId(agentId) ? path.join(localBackendDir(env, env.HOME || undefined), 'memfs', agentId, 'memory') : path.join(agentsDir(env), agentId, 'memory');
}

/** Pure: the agent a not-yet-existing checkout dir is for, when it is one of Letta Code's two layouts. */
export function agentOfCheckoutDir(dir: string): string | undefined {
  const id = path.basename(path.dirname(dir));
  return path.basename(dir) === 'memory' && isAgentId(id) ? id : undefined;
}

export interface Cloned {
  url: string;
  /** The host repo had no commit yet (a new agent): the checkout is empty, on main. */
  empty: boolean;
  hostRepo?: EnsureOutcome;
}

export async function cloneCheckout(dir: string, agentId: string, config: Config, env: NodeJS.ProcessEnv): Promise<Cloned> {
  if (!config.remote) {
    throw new UserError(`no checkout of ${agentId} here yet, and no remote to clone it from`, "pass --remote 'https://host/owner/{agentId}.git'");
  }
  const url = renderRemote(config.remote, agentId);
  const hostRepo = config.createRepos && remoteKind(url) !== 'file' ? (await ensureHostRepo(url, config, env)).outcome : undefined;
  const gitEnv: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  if (remoteKind(url) === 'https') {
    const tok = await readToken(config, env);
    if (!tok) throw new UserError(`no token for ${redactUrl(url)}`, `export ${config.gitTokenEnv}=<token> (or set gitTokenFile to a chmod 600 file) and re-run init`);
    const header = authHeader(config.gitUsername, tok.token);
    addSecret(header.slice('Authorization: Basic '.length));
    const key = `http.${url}.extraHeader`;
    Object.assign(gitEnv, { GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: key, GIT_CONFIG_VALUE_0: '', GIT_CONFIG_KEY_1: key, GIT_CONFIG_VALUE_1: header });
  }
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const r = await git(['-c', 'credential.helper=', '-c', 'core.askPass=', '-c', 'init.defaultBranch=main', 'clone', '--quiet', '--no-hardlinks', url, dir], {
    cwd: path.dirname(dir),
    env: gitEnv,
    allowFailure: true,
    timeoutMs: 300_000,
  });
  if (r.exitCode !== 0) {
    // git removed what it made; an empty <id>/ left behind would look like an agent's to Letta Code and init --all.
    await fs.rmdir(path.dirname(dir)).catch(() => undefined);
    if (looksMissing(r.stderr)) throw missingRepoError(url, 'client');
    const reason = r.stderr.split('\n').find((l) => /^fatal:/.test(l))?.replace(/^fatal:\s*/, '') ?? `exit ${r.exitCode}`;
    throw new UserError(`cannot clone ${redactUrl(url)}: ${reason}`, 'check the remote URL, the network and the token, then re-run init');
  }
  const empty = (await git(['rev-parse', '-q', '--verify', 'HEAD'], { cwd: dir, allowFailure: true })).exitCode !== 0;
  if (empty) await git(['symbolic-ref', 'HEAD', 'refs/heads/main'], { cwd: dir });
  // A server agent's checkout names its Letta origin, as Letta Code's own clone would; init redirects it to the host.
  if (!isLocalAgentId(agentId)) await git(['remote', 'set-url', 'origin', `${config.lettaUrl}/v1/git/${agentId}/state.git`], { cwd: dir });
  await git(['config', 'letta.agentId', agentId], { cwd: dir });
  return { url, empty, hostRepo };
}
