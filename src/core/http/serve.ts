import http from 'node:http';
import type { Socket } from 'node:net';
import { formatError } from '../errors.js';
import { HttpError, sendError } from './reply.js';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** Bounds on what one client can hold: time to send headers, time for the whole request, connections, headers. */
export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxHeaderBytes: number;
  maxHeaders: number;
}

export const DEFAULT_LIMITS: HttpLimits = { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, maxConnections: 256, maxHeaderBytes: 16 * 1024, maxHeaders: 64 };

/**
 * An HTTP server whose every request ends in a reply or a closed socket, and on which no input crashes the
 * process:
 * - the handler is total: a thrown HttpError is its reply; anything else is logged (one line) and answered 500;
 *   a handler that returns without replying gets a 500 too;
 * - `error` on a request, response or the server is handled (an unhandled `error` event kills a Node process);
 * - malformed requests (bad syntax, headers over the limits) get Node's own 400/413/431 before a handler runs;
 * - slowloris: headers and the whole request are timed out, checked every second (Node's default is every 30 s);
 * - a reply sent before the body was read closes the socket, so an oversized upload cannot continue.
 */
export function createTotalServer(handler: Handler, log: (line: string) => void, limits: HttpLimits = DEFAULT_LIMITS): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 1_000,
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    (req, res) => runTotal(handler, req, res, log),
  );
  server.maxHeadersCount = limits.maxHeaders;
  server.maxConnections = limits.maxConnections;
  // Node times out headers only once a request has begun, and its socket idle timeout did not fire either (Node
  // 20): a connection that sends nothing would hold one of `maxConnections` forever. Each connection gets
  // `headersTimeoutMs` to start its request (it carries one request only: every reply closes it).
  const idle = new WeakMap<object, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    const t = setTimeout(() => socket.destroy(), limits.headersTimeoutMs).unref();
    idle.set(socket, t);
    socket.once('close', () => clearTimeout(t));
    socket.on('error', () => undefined);
  });
  server.on('request', (req: http.IncomingMessage) => clearTimeout(idle.get(req.socket)));
  // Once listening (listenOrFail reports errors before that): e.g. EMFILE on accept. Logged; the server goes on.
  server.on('error', (err) => {
    if (server.listening) log(`http server: ${formatError(err)}`);
  });
  return server;
}

function runTotal(handler: Handler, req: http.IncomingMessage, res: http.ServerResponse, log: (line: string) => void): void {
  req.on('error', () => undefined);
  res.on('error', () => undefined);
  res.on('finish', () => {
    if (req.complete) return;
    // Replied before the body ended (413, early refusal): stop reading it.
    req.socket.end();
    setTimeout(() => req.socket.destroy(), 1_000).unref();
  });
  let done: Promise<void>;
  try {
    done = Promise.resolve(handler(req, res));
  } catch (err) {
    done = Promise.reject(err);
  }
  done
    .then(() => {
      if (!res.headersSent) throw new Error('handler returned without a reply');
    })
    .catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      log(`http ${JSON.stringify(`${req.method} ${req.url}`.slice(0, 120))}: ${formatError(err)}`);
      sendError(res, new HttpError(500, 'internal error', 'retry later; the server log names the cause'));
    })
    .catch(() => req.socket.destroy());
}
