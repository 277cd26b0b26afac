import { httpRequest } from '../../core/http/client.js';
import type { Config, ServerMode } from '../../core/config/schema.js';
import { UserError } from '../../core/errors.js';
import { addSecret } from '../../core/log.js';
import { selfCommand } from '../../core/self-command.js';

/** How to reach the Letta REST API. The password is read from the env var the config names, never from argv. */
export interface LettaClientOptions {
  baseUrl: string;
  userId?: string;
  password?: string;
  timeoutMs: number;
  /** Retries after the first try, on connection errors, 429 and 5xx. */
  retries: number;
  /** First backoff delay; doubles each retry (with jitter), capped at 10 s. */
  backoffMs?: number;
  /** How git changes reach Letta (config serverMode): stock pushes through /v1/git/, never sync-from-git. Default patched. */
  mode?: ServerMode;
}

export interface SyncCallResult {
  status: number;
  recompiled: boolean;
  attempts: number;
}

/** A failed sync call; `retryable` says whether a later try (next hook, watch, `sync --pending`) may succeed. */
export class LettaApiError extends UserError {
  constructor(
    message: string,
    fix: string | undefined,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message, fix);
    this.name = 'LettaApiError';
  }
}

export function lettaOptionsFromConfig(cfg: Config, env: NodeJS.ProcessEnv = process.env): LettaClientOptions {
  const password = env[cfg.lettaPasswordEnv] || undefined;
  addSecret(password);
  return {
    baseUrl: cfg.lettaUrl.replace(/\/+$/, ''),
    userId: cfg.lettaUserId,
    password,
    timeoutMs: cfg.syncTimeoutSeconds * 1000,
    retries: cfg.syncRetries,
    mode: cfg.serverMode,
  };
}

function headers(o: LettaClientOptions): Record<string, string> {
  // Actor header and bearer password: letta/server/rest_api/dependencies.py and auth middleware @ 0.16.7.
  const h: Record<string, string> = { accept: 'application/json' };
  if (o.userId) h.user_id = o.userId;
  if (o.password) h.authorization = `Bearer ${o.password}`;
  return h;
}

const RETRY_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function errCode(err: unknown): string | undefined {
  const e = err as { code?: string; cause?: { code?: string }; errors?: { code?: string }[] };
  return e?.code ?? e?.cause?.code ?? e?.errors?.[0]?.code;
}

interface RawResponse {
  status: number;
  location?: string;
  retryAfter?: string;
  body: string;
}

async function send(o: LettaClientOptions, method: 'GET' | 'POST', urlPath: string, maxBodyBytes = 8192): Promise<RawResponse> {
  // httpRequest follows no redirect: a Letta URL answering 3xx must not receive our Authorization header on a
  // second host (facts file, section 2: the API key leaks to a redirected host). Capped: a body only feeds a
  // one-line message or a small JSON answer (listings: getJson).
  const res = await httpRequest(`${o.baseUrl}${urlPath}`, { method, headers: headers(o), timeoutMs: o.timeoutMs, maxBodyBytes });
  return { status: res.status, location: res.header('location'), retryAfter: res.header('retry-after'), body: res.body.toString('utf8') };
}

function detailOf(body: string): string {
  try {
    const j = JSON.parse(body) as { detail?: unknown };
    if (typeof j.detail === 'string') return j.detail;
    if (j.detail !== undefined) return JSON.stringify(j.detail).slice(0, 200);
  } catch {
    /* not JSON */
  }
  return body.slice(0, 200);
}

/** The `version` field of a JSON body (Letta's health route), else undefined. */
function versionOf(body: string): string | undefined {
  try {
    const v = (JSON.parse(body) as { version?: unknown }).version;
    return typeof v === 'string' && v ? v.slice(0, 40) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function backoff(o: LettaClientOptions, attempt: number, retryAfter?: string): number {
  const secs = retryAfter !== undefined ? Number(retryAfter) : NaN;
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, 30_000);
  const base = (o.backoffMs ?? 250) * 2 ** attempt;
  return Math.min(base / 2 + Math.random() * (base / 2), 10_000);
}

/** Pure: what a non-2xx answer of sync-from-git means, as a one-line error with the fix. */
export function classifySyncResponse(agentId: string, status: number, body: string, location?: string): LettaApiError {
  const detail = detailOf(body);
  if (status >= 300 && status < 400) {
    return new LettaApiError(
      `Letta answered ${status} redirecting to ${location ?? '(no location)'}; not following it with credentials`,
      'set lettaUrl (--letta-url) to the final URL of the Letta server',
      false,
      status,
    );
  }
  if (status === 401 || status === 403) {
    return new LettaApiError(`Letta refused the credentials (HTTP ${status})`, 'export the server password in the env var named by lettaPasswordEnv (default LETTA_SERVER_PASSWORD) and check lettaUserId', false, status);
  }
  if (status === 404) {
    // FastAPI answers an unknown route with exactly {"detail":"Not Found"}; the patched endpoint's agent lookup
    // answers a different detail naming the agent (patches/03-sync-from-git-endpoint.patch).
    if (detail === 'Not Found' || detail === '') {
      return new LettaApiError(`sync endpoint missing: apply the server patch (${selfCommand()} patch-server)`, `run ${selfCommand()} patch-server --apply on the Letta server tree and restart it`, false, 404);
    }
    return new LettaApiError(`Letta does not know agent ${agentId}: ${detail}`, 'check the agent id and lettaUserId (the agent must belong to that user)', false, 404);
  }
  if (status === 409) {
    return new LettaApiError(`memfs not enabled for this server/agent: ${detail}`, 'set LETTA_MEMFS_SERVICE_URL=local on the server and give the agent the git-memory-enabled tag', false, 409);
  }
  if (status === 429 || status >= 500) {
    return new LettaApiError(`Letta answered HTTP ${status}: ${detail}`, `the sync stays pending and is retried (${selfCommand()} sync --pending)`, true, status);
  }
  return new LettaApiError(`Letta answered HTTP ${status}: ${detail}`, undefined, false, status);
}

/** A Letta that refuses connections is down, not busy: a call retries that at most this often (< 1 s in all). */
const MAX_CONNECT_RETRIES = 2;
/** After a call gave up on connection errors, further calls to that Letta fail at once for this long. */
const DOWN_MS = 15_000;
const downUntil = new Map<string, { until: number; error: LettaApiError }>();

/**
 * `POST {lettaUrl}/v1/agents/{id}/memory/sync-from-git?recompile=<bool>` (patches/03-sync-from-git-endpoint.patch).
 * httpRequest never retries a POST by itself; we do, with backoff, on connection errors, 429 and 5xx: a repeated sync
 * is harmless because the endpoint re-reads HEAD each time.
 */
export async function syncFromGit(o: LettaClientOptions, agentId: string, recompile: boolean): Promise<SyncCallResult> {
  const urlPath = `/v1/agents/${encodeURIComponent(agentId)}/memory/sync-from-git?recompile=${recompile}`;
  // 100 agents with Letta down must not cost 100 rounds of retries: the first call's verdict stands for a while.
  const down = downUntil.get(o.baseUrl);
  if (down && Date.now() < down.until) throw down.error;
  let connectTries = 0;
  let last: LettaApiError | undefined;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    let res: RawResponse;
    try {
      res = await send(o, 'POST', urlPath);
    } catch (err) {
      const code = errCode(err);
      connectTries++;
      const retryable = code === undefined || RETRY_CODES.has(code);
      // Another call (same process) gave up meanwhile: its verdict, word for word, so logs can fold the lines.
      const verdict = downUntil.get(o.baseUrl);
      if (retryable && verdict && Date.now() < verdict.until) throw verdict.error;
      const giveUp = !retryable || connectTries > Math.min(o.retries, MAX_CONNECT_RETRIES);
      last = new LettaApiError(
        `cannot reach Letta at ${o.baseUrl}: ${code ?? (err as Error).message}${giveUp && connectTries > 1 ? ` (gave up after ${connectTries} tries)` : ''}`,
        'start the Letta server or fix lettaUrl; the sync stays pending and is retried with backoff (status --server shows when)',
        retryable,
      );
      if (giveUp) {
        if (retryable) downUntil.set(o.baseUrl, { until: Date.now() + DOWN_MS, error: last });
        throw last;
      }
      await sleep(backoff(o, attempt));
      continue;
    }
    downUntil.delete(o.baseUrl);
    if (res.status >= 200 && res.status < 300) {
      let recompiled = false;
      try {
        recompiled = Boolean((JSON.parse(res.body) as { recompiled?: boolean }).recompiled);
      } catch {
        /* a 2xx is the acknowledgement; the body is informational */
      }
      return { status: res.status, recompiled, attempts: attempt + 1 };
    }
    last = classifySyncResponse(agentId, res.status, res.body, res.location);
    if (!last.retryable) throw last;
    if (attempt < o.retries) await sleep(backoff(o, attempt, res.retryAfter));
  }
  throw last!;
}

/** One GET for `doctor`: the status, or the connection error code. */
export async function probe(o: LettaClientOptions, urlPath: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status?: number; detail: string; error?: string; version?: string }> {
  try {
    const r = await send(o, method, urlPath);
    return { status: r.status, detail: detailOf(r.body), version: versionOf(r.body) };
  } catch (err) {
    return { detail: '', error: errCode(err) ?? (err as Error).message };
  }
}

/** One GET of a JSON listing (a page of agents can hold megabytes of blocks and tools); a one-line error otherwise. */
export async function getJson(o: LettaClientOptions, urlPath: string): Promise<unknown> {
  let res: RawResponse;
  try {
    res = await send(o, 'GET', urlPath, 64 * 1024 * 1024);
  } catch (err) {
    throw new LettaApiError(`cannot reach Letta at ${o.baseUrl}: ${errCode(err) ?? (err as Error).message}`, 'start the Letta server or fix lettaUrl (--letta-url)', true);
  }
  if (res.status === 404) throw new LettaApiError(`Letta answered HTTP 404 for GET ${urlPath.split('?')[0]}: ${detailOf(res.body)}`, 'check that lettaUrl (--letta-url) is the Letta server', false, 404);
  if (res.status < 200 || res.status >= 300) throw classifySyncResponse('', res.status, res.body, res.location);
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    throw new LettaApiError(`Letta answered GET ${urlPath.split('?')[0]} with a body that is not JSON`, 'check lettaUrl points at the Letta server', false);
  }
}
