/**
 * `--metrics-port` / `--metrics-host` of `watch` and `serve`: GET /metrics on a listener of its own (off unless a
 * port is given), outside serve's secret path and apart from watch's webhooks, e.g. on a compose network only.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { UserError } from '../../core/errors.js';
import { createTotalServer, type ListenAddress, listenOrFail, parseListenAddress } from '../../core/http/index.js';
import { metricsOnlyHandler } from '../../server/metrics/endpoint.js';

export const METRICS_FLAGS = { 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' } } as const;

export const METRICS_HELP = `  --metrics-port <n>     serve GET /metrics (Prometheus text format) on a listener of its own, without any secret
                         (default: off; 0 picks a free one, printed on start); it holds no agent id, content or secret
  --metrics-host <addr>  its address (default 127.0.0.1)`;

const NAMES = { host: '--metrics-host', port: '--metrics-port' };

/** The metrics listener's address from the flags, undefined when off; usage errors (exit 2) before anything starts. */
export function metricsAddress(v: { 'metrics-port'?: string; 'metrics-host'?: string }): ListenAddress | undefined {
  if (v['metrics-port'] === undefined) {
    if (v['metrics-host'] !== undefined) throw new UserError('--metrics-host without --metrics-port', 'add --metrics-port <n> to serve /metrics (it is off by default)', 2);
    return undefined;
  }
  return parseListenAddress(v['metrics-host'] ?? '127.0.0.1', v['metrics-port'], NAMES);
}

export interface MetricsListener {
  url: string;
  stop(): Promise<void>;
}

/** Listens (or rejects with the one-line listen error) and serves the registry on /metrics. */
export async function startMetricsListener(registry: Registry, addr: ListenAddress, log: (line: string) => void): Promise<MetricsListener> {
  const server: http.Server = createTotalServer(metricsOnlyHandler(registry), { log });
  await listenOrFail(server, addr, NAMES);
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
