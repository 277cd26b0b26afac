import http from 'node:http';
import type { Socket } from 'node:net';
import { formatError } from '../errors.js';
import { HttpError, sendError } from './reply.js';

/**
 * A request handler. Its promise is the request's life: a handler that streams its reply (serve's git backends)
 * keeps it pending until the stream has ended or been cut, and one that answers at once returns after replying.
 */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** Bounds on what one client can hold: time to send headers, time for the whole request, connections, headers. */
export interface HttpLimits {
  headersTimeoutMs: number;
  /** Until the request (headers and body) is fully received; the reply may stream for longer. */
  requestTimeoutMs: number;
  /** A connection with no byte moving either way for this long is closed, whatever state it is in. */
  idleTimeoutMs: number;
  /** Connections beyond this are closed as they arrive. */
  maxConnections: number;
  maxHeaderBytes: number;
  maxHeaders: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  maxConnections: 256,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 64,
};

export interface TotalServerOptions {
  log: (line: string) => void;
  limits?: HttpLimits;
  /** How a request is named in the log when its handler fails; default method and target. A service whose
   * paths hold a secret (serve) names it without them. */
  describe?: (req: http.IncomingMessage) => string;
}

/**
 * An HTTP server whose every request ends in a reply or a closed socket, and on which no input crashes the
 * process. Both daemons use it (watch's webhooks and pokes, serve's git smart HTTP), so a fix here is a fix to both:
 * - the handler is total: a thrown HttpError is its reply; anything else is logged (one line) and answered 500;
 *   a handler that settles without replying gets a 500, one that settles with its reply still open is cut;
 * - `error` on a request, response or the server is handled (an unhandled `error` event kills a Node process);
 * - malformed requests (bad syntax, headers over the limits) get Node's own 400/413/431 before a handler runs;
 * - slowloris: a connection must start its request within `headersTimeoutMs`, send it within the request timeout,
 *   and never sit idle past `idleTimeoutMs`; checked every second (Node's default is every 30 s);
 * - at most `maxConnections` connections;
 * - a reply sent before the body was read closes the socket, so an oversized or refused upload cannot continue.
 */
export function createTotalServer(handler: Handler, opts: TotalServerOptions): http.Server {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const describe = opts.describe ?? ((req) => JSON.stringify(`${req.method} ${req.url}`.slice(0, 120)));
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 1_000,
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: limits.maxHeaderBytes,
    },
    (req, res) => runTotal(handler, req, res, (err) => opts.log(`http ${describe(req)}: ${formatError(err)}`)),
  );
  server.maxHeadersCount = limits.maxHeaders;
  server.maxConnections = limits.maxConnections;
  // Any connection silent both ways for idleTimeoutMs is closed (a stalled body, a reader that stopped reading).
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => socket.destroy());
  // Node times out headers only once a request has begun, and its socket idle timeout did not fire either (Node
  // 20): a connection that sends nothing would hold one of `maxConnections` until the idle timeout. Each connection
  // gets `headersTimeoutMs` to start its first request.
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
    if (server.listening) opts.log(`http server: ${formatError(err)}`);
  });
  return server;
}

function runTotal(handler: Handler, req: http.IncomingMessage, res: http.ServerResponse, logFailure: (err: unknown) => void): void {
  // Held from the start: Node detaches req.socket once the response has finished (it is null in 'finish').
  const socket = req.socket;
  req.on('error', () => undefined);
  res.on('error', () => undefined);
  res.on('finish', () => {
    if (req.complete) return;
    // Replied before the body ended (413, early refusal): stop reading it.
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
  let done: Promise<void>;
  try {
    done = Promise.resolve(handler(req, res));
  } catch (err) {
    done = Promise.reject(err);
  }
  done
    .then(() => {
      // Replied, answered on the socket itself (serve's early refusals), or the connection is gone: nothing to answer.
      if (res.destroyed || res.writableEnded || socket.writableEnded) return;
      if (!res.headersSent) throw new Error('handler returned without a reply');
      // A reply begun and left open would hold the connection: cut it, the client sees a truncated reply.
      logFailure(new Error('handler returned with its reply still open'));
      res.destroy();
    })
    .catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      logFailure(err);
      if (res.headersSent) return void res.destroy();
      sendError(res, new HttpError(500, 'internal error', 'retry later; the server log names the cause'));
    })
    .catch(() => socket.destroy());
}
