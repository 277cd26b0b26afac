/**
 * Rules every HTTP endpoint of this package follows (watch's webhooks and pokes, serve's git smart HTTP), because
 * every network request is untrusted; and the one HTTP client every outgoing request uses:
 * - `createTotalServer`: any method, path, header, body or timing gets a 4xx/5xx or a closed socket, never a
 *   crash; slow and idle clients are timed out; connections and headers are bounded; a handler may stream.
 * - `readBody`: a body capped in bytes, read or refused (413/400) without buffering more than the cap.
 * - `parseTarget`: the path decoded without throwing (malformed %XX, control characters, overlong: 400/414).
 * - `HttpError` / `sendJson`: refusals are `{"error", "fix"}` JSON, one line each.
 * - `parseListenAddress` / `listenOrFail`: a bad --host/--port is a usage error (exit 2), and an address that
 *   cannot be listened on is a one-line error within a bound, so the service exits instead of running without it.
 * - `httpRequest`: no redirect followed, one deadline, a capped body (client.ts).
 */
export { readBody } from './body.js';
export { httpRequest, type HttpRequest, type HttpResponse } from './client.js';
export { type ListenAddress, type ListenNames, listenError, listenOrFail, parseListenAddress } from './listen.js';
export { HttpError, sendError, sendJson } from './reply.js';
export { createTotalServer, DEFAULT_LIMITS, type Handler, type HttpLimits, type TotalServerOptions } from './serve.js';
export { MAX_TARGET_LENGTH, parseTarget, type Target } from './target.js';
