import type http from 'node:http';
import type { Registry } from 'prom-client';
import { HttpError, parseTarget, readBody, sendJson } from '../../core/http/index.js';
import { isMetricsPath, sendMetrics } from '../metrics/endpoint.js';
import { trace } from '../../core/trace.js';
import { agentFromPayload, DeliveryLog, isPushEvent, MAX_BODY_BYTES, verifyRequest } from './webhook.js';

/** What the endpoint needs from the watcher. */
export interface EndpointDeps {
  secret: string;
  /** The remote template, to match webhook payloads to agents. */
  template: string;
  /** False until the first scan is done: agents are not known yet. */
  ready(): boolean;
  agents(): string[];
  /** Queues a pull; false for an unknown agent (or while stopping). */
  trigger(agentId: string, reason: 'webhook' | 'poke'): boolean;
  /** Served on `GET /metrics`, without the secret (it holds no agent id, content or secret). */
  metrics?: Registry;
}

/**
 * `watch`'s routes: `GET|HEAD /healthz`, `GET|HEAD /metrics` (Prometheus), `POST /webhook` (GitHub, Gitea/Forgejo, GitLab push events) and
 * `POST /poke/<agentId>` (signed pokes). Runs inside createTotalServer, so anything thrown is a reply; a request
 * to an unknown path or with the wrong method is refused before its body is read.
 */
export function watchHandler(deps: EndpointDeps): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const deliveries = new DeliveryLog();
  return async (req, res) => {
    const { segments } = parseTarget(req.url);
    const method = req.method ?? '';
    if (segments.length === 1 && segments[0] === 'healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'only GET or HEAD', 'GET /healthz');
      if (!deps.ready()) return sendJson(res, 503, { ok: false, starting: true }, { 'retry-after': '5' });
      return sendJson(res, 200, { ok: true, agents: deps.agents().length });
    }
    if (deps.metrics && isMetricsPath(req)) return sendMetrics(deps.metrics, req, res);
    const known = (segments.length === 1 && segments[0] === 'webhook') || (segments.length === 2 && segments[0] === 'poke');
    if (!known) throw new HttpError(404, 'unknown path', `POST to /webhook or /poke/<agentId>, or GET /healthz${deps.metrics ? ' or /metrics' : ''}`);
    if (method !== 'POST') throw new HttpError(405, 'only POST', 'use POST');
    const body = await readBody(req, MAX_BODY_BYTES);
    if (!deps.ready()) throw new HttpError(503, 'starting: agents not scanned yet', 'retry in a few seconds');
    const v = verifyRequest(method, req.url ?? '', req.headers, body, deps.secret);
    if (!v.ok) throw new HttpError(v.status, v.reason, v.fix);
    const replay = new HttpError(409, 'replayed request', 'send each delivery once; a new push makes a new one');
    if (v.source === 'poke') {
      if (deliveries.seen(v.replayKey, v.replayUntil)) throw replay;
      trace('watch.poke', v.agentId);
      if (!deps.trigger(v.agentId, 'poke')) throw new HttpError(404, 'unknown agent', 'poke an agent whose repo is under the memfs root');
      return sendJson(res, 202, { queued: v.agentId });
    }
    if (v.event === 'ping') return sendJson(res, 200, { ok: 'pong' });
    if (!isPushEvent(v.source, v.event)) throw new HttpError(400, `event ${v.event.slice(0, 64)} is not a push`, 'subscribe the webhook to push events only');
    // Only what can trigger a pull is remembered. The event header is not signed, so the key is the body alone.
    if (deliveries.seen(v.replayKey, v.replayUntil)) throw replay;
    const { agentId, reason } = agentFromPayload(parsePayload(body), deps.template, deps.agents());
    if (!agentId) return sendJson(res, 202, { ignored: reason });
    trace('watch.webhook', agentId);
    deps.trigger(agentId, 'webhook');
    sendJson(res, 202, { queued: agentId });
  };
}

function parsePayload(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    // GitHub can deliver as application/x-www-form-urlencoded with the JSON in `payload`.
    return JSON.parse(/^payload=/.test(text) ? (new URLSearchParams(text).get('payload') ?? '') : text);
  } catch {
    throw new HttpError(400, 'payload is not JSON', 'set the webhook content type to application/json');
  }
}
