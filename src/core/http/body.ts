import type http from 'node:http';
import { HttpError } from './reply.js';

/**
 * Reads a request body of at most `maxBytes`. Rejects with an HttpError, never throws: 413 when the declared or
 * the received length is over the cap (what was read is dropped at once, so memory stays bounded whatever the
 * client sends), 400 when the client aborts or the stream fails mid-body. A slow body is the server's
 * `requestTimeout` to end (see serve.ts).
 */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, `request body over ${maxBytes} bytes`, `send at most ${maxBytes} bytes`);
    const declared = req.headers['content-length'];
    // Node has checked the syntax of Content-Length already (an invalid one never reaches a handler).
    if (declared !== undefined && Number(declared) > maxBytes) {
      discard(req);
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: HttpError) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      discard(req);
      reject(err);
    };
    req.on('data', (c: Buffer) => {
      if (settled) return;
      size += c.length;
      if (size > maxBytes) return fail(tooLarge());
      chunks.push(c);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', () => fail(new HttpError(400, 'request body failed mid-stream', 'resend the request')));
    req.on('close', () => {
      if (!req.complete) fail(new HttpError(400, 'request aborted before its body ended', 'resend the whole request'));
    });
  });
}

/** Drains without keeping anything: the reply can still go out, and the socket is closed after it (serve.ts). */
function discard(req: http.IncomingMessage): void {
  req.removeAllListeners('data');
  req.on('data', () => undefined);
  req.resume();
}
