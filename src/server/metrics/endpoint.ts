import type http from 'node:http';
import type { Registry } from 'prom-client';
import { HttpError, parseTarget } from '../../core/http/index.js';

/** Whether a request is for `/metrics` (any query string ignored, as Prometheus may add one). */
export function isMetricsPath(req: http.IncomingMessage): boolean {
  const { segments } = parseTarget(req.url);
  return segments.length === 1 && segments[0] === 'metrics';
}

/** `GET|HEAD /metrics`: the registry in the Prometheus text format. No secret, no agent id in it (registry.ts). */
export async function sendMetrics(registry: Registry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET or HEAD', 'GET /metrics');
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-cache', connection: 'close' });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** The whole of serve's metrics listener: `/metrics` and nothing else (its git routes stay on the secret path). */
export function metricsOnlyHandler(registry: Registry): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (!isMetricsPath(req)) throw new HttpError(404, 'unknown path', 'GET /metrics');
    await sendMetrics(registry, req, res);
  };
}
