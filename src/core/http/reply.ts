import type http from 'node:http';

/**
 * A refusal a handler throws (or a body reader rejects with): the status, one line saying what is wrong, and the
 * fix, sent as `{"error": ..., "fix": ...}` so an operator reading a webhook delivery log sees what to change.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Sends a JSON reply and closes the connection: each request gets a fresh connection, so a client cannot keep a
 * half-read body or a pipelined backlog on ours. A no-op once a reply went out or the socket is gone.
 */
export function sendJson(res: http.ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), connection: 'close', ...headers });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: oneLine(err.message), fix: oneLine(err.fix) });
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');
