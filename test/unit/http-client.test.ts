// The one HTTP client (src/core/http/client.ts) against real local servers: what its callers rely on.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../src/core/http/client.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: http.RequestListener, port = 0): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('httpRequest', () => {
  it('sends method, headers and body; returns status, headers and body', async () => {
    const base = await serve((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        res.setHeader('x-seen', `${req.method} ${req.url} ${req.headers.user_id} ${req.headers.authorization} ${b}`);
        res.end('{"ok":true}');
      });
    });
    const r = await httpRequest(`${base}/v1/x?y=1`, { method: 'POST', headers: { user_id: 'user-1', authorization: 'Bearer pw' }, body: Buffer.from('hi'), timeoutMs: 5_000 });
    expect(r.status).toBe(200);
    expect(r.header('X-Seen')).toBe('POST /v1/x?y=1 user-1 Bearer pw hi');
    expect(r.body.toString()).toBe('{"ok":true}');
    expect(r.truncated).toBe(false);
  });

  it('never follows a redirect: the 3xx comes back and the other host sees no request', async () => {
    let other = 0;
    const elsewhere = await serve((_req, res) => {
      other++;
      res.end('secret sink');
    });
    const base = await serve((_req, res) => {
      res.writeHead(307, { location: `${elsewhere}/steal` });
      res.end();
    });
    const r = await httpRequest(`${base}/`, { method: 'POST', headers: { authorization: 'Bearer pw' }, timeoutMs: 5_000 });
    expect(r.status).toBe(307);
    expect(r.header('location')).toBe(`${elsewhere}/steal`);
    expect(other).toBe(0);
  });

  it('keeps at most maxBodyBytes of a long body and says so', async () => {
    const base = await serve((_req, res) => {
      res.write(Buffer.alloc(64 * 1024, 'a'));
      res.end(Buffer.alloc(64 * 1024, 'b'));
    });
    const r = await httpRequest(base, { method: 'GET', timeoutMs: 5_000, maxBodyBytes: 1000 });
    expect(r.body.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it('a server that never answers ends in ETIMEDOUT at the deadline', async () => {
    const base = await serve(() => undefined);
    const t0 = Date.now();
    await expect(httpRequest(base, { method: 'GET', timeoutMs: 300 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a reply cut mid-body is an error, not a short body', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.destroy(), 50);
    });
    await expect(httpRequest(base, { method: 'GET', timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('refusals carry their code; non-http URLs are refused before any connection', async () => {
    const free = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    await expect(httpRequest(free, { method: 'GET', timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(httpRequest('file:///etc/passwd', { method: 'GET', timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ERR_INVALID_PROTOCOL' });
    await expect(httpRequest('not a url', { method: 'GET', timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ERR_INVALID_URL' });
  });

  it('reaches a port that fetch refuses (WHATWG bad ports)', async () => {
    // The first of fetch's blocked ports free on this machine; none free is a failure, not a skip.
    let base: string | undefined;
    for (const port of [6665, 6666, 6667, 6668, 6669, 10080, 6000, 5060, 6697]) {
      base = await serve((_req, res) => res.end('reached'), port).catch(() => undefined);
      if (base) break;
      servers.pop();
    }
    expect(base, 'no port of the bad-port list is free here').toBeDefined();
    await expect(fetch(base!)).rejects.toThrow();
    expect((await httpRequest(base!, { method: 'GET', timeoutMs: 5_000 })).body.toString()).toBe('reached');
  });
});
