/**
 * Stock mode's way into Postgres: push a commit to Letta's own `/v1/git/<agent>/state.git` as `main`. Letta's proxy
 * forwards it to our memfs service (which validates it and moves main under Letta's commit lock) and then runs its
 * own full block sync, `_sync_after_push` (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7). No patched
 * endpoint, and main never moves behind Letta's back.
 */
import { git, NETWORK_TIMEOUT_MS } from '../../git/git.js';
import type { AgentRepo } from '../repo/discover.js';
import type { LettaClientOptions } from './letta-api.js';


/**
 * git's environment for the push: the actor (`user_id`) and, on a --secure server, `Authorization: Bearer` as
 * http.extraHeader through GIT_CONFIG_* (never argv, never repo.git/config, which Letta copies into its temp dirs).
 */
export function lettaPushEnv(letta: LettaClientOptions, userId: string | undefined): Record<string, string> {
  const headers: string[] = [];
  const actor = userId ?? letta.userId;
  if (actor) headers.push(`user_id: ${actor}`);
  if (letta.password) headers.push(`Authorization: Bearer ${letta.password}`);
  const config: [string, string][] = [
    ['credential.helper', ''],
    ['core.askPass', ''],
    ...headers.map((h): [string, string] => ['http.extraHeader', h]),
  ];
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_COUNT: String(config.length) };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

export type ProxyPushResult = 'ok' | 'rejected' | { error: string };

/** Pushes `commit` as main through Letta; `rejected` when main moved meanwhile (fetch, merge and try again). */
export async function pushThroughLetta(repo: AgentRepo, commit: string, letta: LettaClientOptions, userId?: string): Promise<ProxyPushResult> {
  const url = `${letta.baseUrl}/v1/git/${encodeURIComponent(repo.agentId)}/state.git`;
  const r = await git(['push', '--quiet', '--no-verify', url, `${commit}:refs/heads/main`], {
    gitDir: repo.gitDir,
    env: lettaPushEnv(letta, userId),
    allowFailure: true,
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (r.exitCode === 0) return 'ok';
  if (/\[rejected\]|non-fast-forward|fetch first|stale info|failed to update ref|cannot lock/i.test(r.stderr)) return 'rejected';
  // The service's refusal reaches git as `remote:` lines (pre-receive); they say why, git's last line only that it failed.
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  const remote = lines.filter((l) => l.startsWith('remote: ') && l.trim() !== 'remote:').map((l) => l.slice(8).trim());
  return { error: (remote.length > 0 ? remote.join('; ') : (lines.pop() ?? `git exit ${r.exitCode}`)).slice(0, 300) };
}
