/**
 * Whether the actor Letta's proxy forwarded may reach an agent, asked of Letta itself. Letta's `/v1/git/` proxy
 * (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7 and 0.16.8, `proxy_git_http`) checks access and sets
 * X-Organization-Id only when the path's second segment is `state.git`; for any other path it forwards the client's
 * own headers, and httpx removes the dot segments Starlette decoded, so `/v1/git/x/y/%2e%2e/%2e%2e/<agent>/state.git`
 * reaches us as `<agent>/state.git` with a forged org header. So we ask Letta, as that actor (the `user_id` header it
 * forwards, none meaning its default user), for GET /v1/agents/<agent>: Letta answers it only for an agent of the
 * actor's own organization (`get_agent_by_id_async` filters by `actor.organization_id`).
 */
import { lettaCall } from './recompile.js';

export type Verdict = 'allow' | 'deny' | 'unavailable';

export interface AccessOptions {
  lettaUrl: string;
  password?: string;
  /** One question to Letta; no answer within it is 'unavailable'. */
  timeoutMs: number;
  /** How long a verdict stands (a revoked access lasts at most this long). */
  ttlMs: number;
  /** Verdicts kept at most; the oldest go first. */
  maxEntries: number;
  now?: () => number;
}

/** Pure: Letta's answer to GET /v1/agents/<agent> as the actor, as a verdict. */
export function verdictOf(status: number | undefined, body: string, agent: string): Verdict {
  if (status === undefined || status >= 500 || status === 429) return 'unavailable';
  // 401/403 mean Letta refused *our* credentials (LETTA_SERVER_PASSWORD), not the actor: we could not ask.
  if (status === 401 || status === 403) return 'unavailable';
  if (status !== 200) return 'deny';
  try {
    return (JSON.parse(body) as { id?: unknown }).id === agent ? 'allow' : 'deny';
  } catch {
    return 'deny';
  }
}

export class AccessCheck {
  private readonly verdicts = new Map<string, { verdict: Verdict; until: number }>();
  private readonly now: () => number;

  constructor(private readonly o: AccessOptions) {
    this.now = o.now ?? Date.now;
  }

  /** 'unavailable' is never cached: the next request asks again. */
  async check(actor: string | undefined, agent: string): Promise<Verdict> {
    const key = `${actor ?? '-'} ${agent}`;
    const hit = this.verdicts.get(key);
    if (hit && hit.until > this.now()) return hit.verdict;
    this.verdicts.delete(key);
    const r = await lettaCall({ lettaUrl: this.o.lettaUrl, password: this.o.password, timeoutMs: this.o.timeoutMs }, actor, 'GET', `/v1/agents/${encodeURIComponent(agent)}`).catch(() => undefined);
    const verdict = verdictOf(r?.status, r?.body ?? '', agent);
    if (verdict !== 'unavailable') {
      while (this.verdicts.size >= this.o.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value!);
      this.verdicts.set(key, { verdict, until: this.now() + this.o.ttlMs });
    }
    return verdict;
  }
}
