/**
 * Which server mode fits the Letta server: `patched` when it has the sync-from-git endpoint, `stock` when it is Letta
 * without it. `init --server` records it when no `--mode` is given; `doctor` checks the recorded one.
 */
import type { ServerMode } from '../../core/config/schema.js';
import { type LettaClientOptions, probe } from '../letta/letta-api.js';

/** `unknown`: the probe got no answer (timeout, reset), which says nothing about the route. */
export type Endpoint = 'present' | 'missing' | 'unknown';

/** What the Letta URL is: not reachable, not Letta, or Letta with or without the endpoint. */
export type LettaKind = { letta: false; reached: boolean; detail: string; redirect?: number } | { letta: true; version?: string; guarded: boolean; endpoint: Endpoint; detail: string };

// An agent id no server has: the patched endpoint answers 404 naming the agent, an unpatched server FastAPI's bare
// `Not Found` (patches/03-sync-from-git-endpoint.patch). Nothing is synced either way.
const NO_AGENT = 'agent-00000000-0000-4000-8000-000000000000';

/**
 * Pure: the endpoint probe's answer. Any other answer than a bare 404 (or 405) is the route existing; no answer at all
 * (a loaded server timing out) is not read as either, so a slow patched Letta is never recorded as stock.
 */
export function endpointFrom(status: number | undefined, detail: string): Endpoint {
  if (status === undefined) return 'unknown';
  const missing = status === 405 || (status === 404 && (detail === 'Not Found' || detail === ''));
  return missing ? 'missing' : 'present';
}

/**
 * Asks Letta (two GETs and one POST on an agent no server has): Letta answers GET /v1/health/ with {"version", "status"}
 * (letta/server/rest_api/routers/v1/health.py @ 0.16.7); a --secure server may guard it (401/403).
 */
export async function inspectLetta(o: LettaClientOptions): Promise<LettaKind> {
  const health = await probe(o, '/v1/health/');
  if (health.error) return { letta: false, reached: false, detail: `${o.baseUrl}: ${health.error}` };
  if (health.status !== undefined && health.status >= 300 && health.status < 400) {
    return { letta: false, reached: true, redirect: health.status, detail: `${o.baseUrl} answered HTTP ${health.status}` };
  }
  const guarded = health.status === 401 || health.status === 403;
  if (!guarded && (health.status !== 200 || !health.version)) {
    return { letta: false, reached: true, detail: `${o.baseUrl} is not a Letta server (GET /v1/health/ answered HTTP ${health.status}${health.version ? '' : ', no version'})` };
  }
  const ep = await probe(o, `/v1/agents/${NO_AGENT}/memory/sync-from-git?recompile=false`, 'POST');
  const endpoint = endpointFrom(ep.status, ep.detail);
  const detail = ep.status === 404 && endpoint === 'missing' ? 'missing (HTTP 404 Not Found)' : `HTTP ${ep.status ?? ep.error}: ${ep.detail}`;
  return { letta: true, version: health.version, guarded, endpoint, detail };
}

export type ServiceAnswer = 'answers' | 'not-configured' | 'unreachable' | 'refused';

/** Pure: what Letta's /v1/git/ proxy answered for an agent's info/refs (git_http.py @ 0.16.7 `proxy_git_http`). */
export function serviceAnswer(status: number | undefined, body: string): ServiceAnswer {
  if (status === 200 && body.includes('# service=git-upload-pack')) return 'answers';
  // 501: LETTA_MEMFS_SERVICE_URL unset; the proxy's httpx raises on a service that is down (500 or no answer).
  if (status === 501) return 'not-configured';
  if (status === undefined || status >= 500) return 'unreachable';
  return 'refused';
}

/** Whether `serve` answers behind Letta's /v1/git/ for one agent (a read-only info/refs through the proxy). */
export async function probeService(o: LettaClientOptions, agentId: string): Promise<{ answer: ServiceAnswer; detail: string }> {
  const r = await probe(o, `/v1/git/${encodeURIComponent(agentId)}/state.git/info/refs?service=git-upload-pack`);
  const answer = serviceAnswer(r.status, r.detail);
  return { answer, detail: r.error ?? `HTTP ${r.status}${answer === 'answers' ? '' : `: ${r.detail.slice(0, 120)}`}` };
}

export interface ModeChoice {
  /** undefined: not decided (nothing recorded; the default, patched, applies). */
  mode?: ServerMode;
  why: string;
}

/**
 * Pure: the mode `init --server` records. A flag wins, then the one recorded earlier (re-runs keep it), then what the
 * server shows; a server that cannot be asked decides nothing.
 */
export function chooseMode(flag: ServerMode | undefined, saved: ServerMode | undefined, kind: LettaKind | undefined, env?: ServerMode): ModeChoice {
  if (flag) return { mode: flag, why: '--mode' };
  if (env) return { mode: env, why: 'LETTA_MEMFS_SERVER_MODE' };
  if (saved) return { mode: saved, why: 'recorded earlier' };
  if (!kind) return { why: 'not detected' };
  if (!kind.letta) return { why: `not detected: ${kind.detail}; patched applies, pass --mode stock for an unpatched Letta` };
  const letta = `Letta${kind.version ? ` ${kind.version}` : ''}`;
  if (kind.endpoint === 'unknown') return { why: `not detected: ${letta} did not answer the sync-from-git probe (${kind.detail}); patched applies, pass --mode stock for an unpatched Letta` };
  return kind.endpoint === 'present'
    ? { mode: 'patched', why: `detected: ${letta} has the sync-from-git endpoint` }
    : { mode: 'stock', why: `detected: ${letta} without the sync-from-git endpoint` };
}
