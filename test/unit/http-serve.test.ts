// createTotalServer (src/core/http/serve.ts), the HTTP front of both daemons (watch and serve), against real sockets.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { pipeline, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createTotalServer, DEFAULT_LIMITS, type Handler, type HttpLimits } from '../../src/core/http/index.js';

const open: http.Server[] = [];
afterEach(() => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function start(handler: Handler, limits: Partial<HttpLimits> = {}, describe?: (req: http.IncomingMessage) => string) {
  const logs: string[] = [];
  const server = createTotalServer(handler, { log: (l) => logs.push(l), limits: { ...DEFAULT_LIMITS, ...limits }, describe });
  open.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, logs };
}

function get(port: number, opts: { method?: string; path?: string; body?: Buffer; end?: boolean; agent?: http.Agent | false } = {}): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body, error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    if (opts.body) req.write(opts.body);
    if (opts.end !== false) req.end();
  });
}

/** Resolves when the server closes the raw connection, with how long that took. */
function closedAfter(port: number, send = ''): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1', () => send && s.write(send));
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => resolve(Date.now() - t0));
  });
}

describe('createTotalServer', () => {
  it('a streaming handler keeps the request while its promise is pending, and the reply arrives whole', async () => {
    const { port, logs } = await start(
      (_req, res) =>
        new Promise<void>((done) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          let n = 0;
          const t = setInterval(() => {
            res.write(`chunk${n}\n`);
            if (++n === 5) {
              clearInterval(t);
              res.end();
              done();
            }
          }, 20);
        }),
    );
    const r = await get(port);
    expect(r).toEqual({ status: 200, body: 'chunk0\nchunk1\nchunk2\nchunk3\nchunk4\n' });
    expect(logs).toEqual([]);
  });

  it('a handler that settles with its reply open is cut (the client sees a truncated reply) and logged', async () => {
    const { port, logs } = await start(async (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('part');
    });
    const r = await get(port);
    expect(r.error).toBeDefined();
    expect(logs.join('\n')).toMatch(/reply still open/);
  });

  it('a handler that settles without a reply gets a 500; a throw gets a 500 and one log line', async () => {
    const silent = await start(async () => undefined);
    expect((await get(silent.port)).status).toBe(500);
    const thrower = await start(() => {
      throw new Error('boom');
    });
    expect((await get(thrower.port)).status).toBe(500);
    expect(thrower.logs).toEqual([expect.stringMatching(/boom/)]);
  });

  it('a failure is logged as `describe` names the request: serve keeps its secret path out of the log', async () => {
    const { port, logs } = await start(async () => {
      throw new Error('boom');
    }, {}, (req) => `${req.method} request`);
    await get(port, { path: '/s3cr3t-prefix/git/x' });
    expect(logs.join('\n')).not.toContain('s3cr3t');
    expect(logs.join('\n')).toContain('GET request');
  });

  it('a keep-alive reply sent before the body ended closes the connection, and the server lives on', async () => {
    // The crash this guards: Node detaches req.socket when such a reply finishes.
    // serve's case: the body pipeline fails (over the cap), which destroys the request stream, then the reply goes.
    const { port } = await start(
      (req, res) =>
        new Promise<void>((done) => {
          const cap = new Writable({ write: (_c, _e, cb) => cb(new Error('over the cap')) });
          pipeline(req, cap, () => {
            res.writeHead(413, { 'content-type': 'text/plain' });
            res.end('too large\n', done);
          });
        }),
    );
    const agent = new http.Agent({ keepAlive: true });
    const r = await get(port, { method: 'POST', body: Buffer.alloc(1024), end: false, agent });
    agent.destroy();
    expect(r.status).toBe(413);
    await new Promise((res) => setTimeout(res, 100));
    expect((await get(port)).status).toBe(413);
  });

  it('a connection that never starts a request is closed after headersTimeoutMs; one that stalls mid-body after idleTimeoutMs', async () => {
    const { port } = await start(
      (req, res) =>
        new Promise<void>((done) => {
          req.resume();
          req.on('end', () => res.end('ok', done));
          req.on('close', done);
        }),
      { headersTimeoutMs: 400, idleTimeoutMs: 600, requestTimeoutMs: 60_000 },
    );
    expect(await closedAfter(port)).toBeLessThan(2_500);
    const stalled = await closedAfter(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    expect(stalled).toBeGreaterThanOrEqual(500);
    expect(stalled).toBeLessThan(3_000);
  });

  it('connections beyond maxConnections are closed as they arrive', async () => {
    const { port } = await start(() => new Promise<void>(() => undefined), { maxConnections: 2, headersTimeoutMs: 30_000, requestTimeoutMs: 60_000, idleTimeoutMs: 30_000 });
    const held = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
    for (const h of held) h.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(await closedAfter(port)).toBeLessThan(1_000);
    for (const h of held) h.destroy();
  });
});
