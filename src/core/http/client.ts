import http from 'node:http';
import https from 'node:https';

/**
 * The package's one HTTP client (Letta's REST API, the external host's refs, the client's poke to `watch`), on
 * node:http/https rather than undici or the global fetch:
 * - nothing to bundle (undici was 0.5 MB of the 1.2 MB runtime) and nothing heavy to load on the client's path;
 * - fetch refuses the WHATWG "bad ports" (e.g. 6000, 6665-6669, 10080): a Letta or git host there would be
 *   unreachable for no reason an operator could guess;
 * - no redirect is ever followed: a 3xx is returned as it is, so a token or password in the headers never reaches
 *   a second host (facts file, section 2);
 * - one deadline for the whole exchange, and a cap on what is kept of the body (the rest is not read).
 * Node 20's global agents keep connections alive, so an idle `pull --all` reuses one per host.
 */
export interface HttpRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer;
  /** Deadline for the whole exchange, connect to last byte; the error then has code ETIMEDOUT. */
  timeoutMs: number;
  /** Bytes of the body kept (default 16 MiB); a longer body is cut there and `truncated` set. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; a repeated header gives its first value. */
  header(name: string): string | undefined;
  body: Buffer;
  truncated: boolean;
}

const DEFAULT_MAX_BODY = 16 * 1024 * 1024;

/** Rejects with the socket's error (its `code`: ECONNREFUSED, ENOTFOUND, ETIMEDOUT...) when no answer came. */
export function httpRequest(url: string, r: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return reject(Object.assign(new Error(`not a URL: ${JSON.stringify(url.slice(0, 80))}`), { code: 'ERR_INVALID_URL' }));
    }
    const lib = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!lib) return reject(Object.assign(new Error(`not an http(s) URL: ${target.protocol}`), { code: 'ERR_INVALID_PROTOCOL' }));
    const max = r.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const headers = { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) };
    const req = lib.request(target, { method: r.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const finish = () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, header: (n) => first(res.headers[n.toLowerCase()]), body, truncated });
      };
      res.on('data', (c: Buffer) => {
        if (truncated) return;
        if (size + c.length > max) {
          chunks.push(c.subarray(0, max - size));
          truncated = true;
          // Not read further: the connection goes, the caller has what it may keep.
          res.destroy();
          return finish();
        }
        size += c.length;
        chunks.push(c);
      });
      res.on('end', () => !truncated && finish());
      res.on('error', () => undefined); // the 'close' below reports it
      res.on('close', () => !truncated && !res.complete && fail(Object.assign(new Error('the connection closed mid-reply'), { code: 'ECONNRESET' })));
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(Object.assign(new Error(`no complete answer in ${r.timeoutMs} ms`), { code: 'ETIMEDOUT' })), r.timeoutMs);
    req.on('error', fail);
    req.end(r.body);
  });
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
