/**
 * Hostile requests against a real `watch` process (raw sockets, loopback): every one gets a 4xx/5xx (our refusals
 * as one-line `{"error","fix"}` JSON) or a closed socket, the process stays up and keeps serving, and the secret
 * appears nowhere. Also: replays of signed requests, and endpoints that cannot listen.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPoke } from '../../src/sync/poke-signature.js';
import { clientPush, type Harness, makeHarness } from '../server/harness.js';
import { expectNoStack, expectRefused, runHostile, snapshotAll } from './harness.js';
import { hmac, post, pushPayload, raw, type RawReply, req, SECRET, type WatchProc, useWatch } from './watch-process.js';

let w: WatchProc;
useWatch((x) => (w = x));

/** The reply is one of `statuses` (undefined: closed without one); ours carry a one-line fix; watch still serves. */
async function expectSurvived(r: RawReply, statuses: (number | undefined)[], ours = true): Promise<void> {
  expect(statuses, `${r.headers}\n${r.body}`).toContain(r.status);
  expect(r.headers + r.body).not.toContain(SECRET);
  expectNoStack(r.body);
  if (ours && r.status !== undefined && r.status >= 400) {
    const body = JSON.parse(r.body) as { error: string; fix: string };
    expect(body.error).toMatch(/^[^\n]+$/);
    expect(body.fix).toMatch(/^[^\n]+$/);
  }
  expect(w.alive(), w.log()).toBe(true);
  const health = await raw(w.port, req(['GET /healthz HTTP/1.1', 'Host: x']));
  expect(health.status, w.log()).toBe(200);
}

const gh = (body: string, extra: string[] = []) => post('/webhook', ['X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${hmac(body)}`, ...extra], body);
const pokeHeaders = (agentId: string, ts?: number) => Object.entries(signPoke(SECRET, agentId, ts)).map(([k, v]) => `${k}: ${v}`);
let n = 0;
/** A push payload no other case sent (each signed body may be delivered once). */
const fresh = (extra: Record<string, unknown> = {}) => pushPayload(w, { n: ++n, ...extra });

describe('class 2: malformed paths', () => {
  it.each([
    ['/poke/%', [400]],
    ['/poke/%zz', [400]],
    ['/poke/%E0%A4%A', [400]],
    ['/poke/%C0%AF', [400]],
    ['/poke/agent%00x', [400]],
    ['/poke/agent%0d%0aX-Injected:%201', [400]],
    ['/webhook/%', [400]],
    ['/webhook%2F..%2Fhealthz', [404]],
    ['/poke/', [404]],
    ['/poke/agent-00000000-0000-4000-8000-000000000000/extra', [404]],
    ['/'.padEnd(4000, 'a'), [414]],
  ])('POST %s', async (target, statuses) => {
    await expectSurvived(await raw(w.port, post(target, [])), statuses);
  });

  it('a path of raw UTF-8 and a 20 KB path', async () => {
    await expectSurvived(await raw(w.port, post('/poke/\u00e4gent-\u2603', [])), [400, 404], false);
    await expectSurvived(await raw(w.port, post(`/poke/${'%41'.repeat(7000)}`, [])), [431, 414], false);
  });

  it('request targets that are not paths: *, absolute-form', async () => {
    await expectSurvived(await raw(w.port, post('*', [])), [400], false);
    await expectSurvived(await raw(w.port, post('http://evil.example/webhook', [])), [400, 404], false);
  });
});

describe('class 2: methods', () => {
  it.each([
    ['DELETE', '/webhook', [405]],
    ['PUT', '/poke/agent-00000000-0000-4000-8000-000000000000', [405]],
    ['GET', '/webhook', [405]],
    ['POST', '/healthz', [405]],
    ['PROPFIND', '/webhook', [405]],
    ['GET', '/nope', [404]],
  ])('%s %s', async (method, target, statuses) => {
    await expectSurvived(await raw(w.port, req([`${method} ${target} HTTP/1.1`, 'Host: x', 'Content-Length: 0'])), statuses);
  });

  it('a method Node does not know, and HTTP/0.9 / garbage request lines', async () => {
    await expectSurvived(await raw(w.port, req(['FOO /webhook HTTP/1.1', 'Host: x'])), [400], false);
    await expectSurvived(await raw(w.port, Buffer.from('\x00\x01\x02garbage\r\n\r\n')), [400], false);
    await expectSurvived(await raw(w.port, Buffer.from('GET /healthz\r\n\r\n')), [200, 400, undefined], false);
  });
});

describe('class 2: headers', () => {
  it('duplicate signature headers (one valid) are not believed', async () => {
    const body = fresh();
    const r = await raw(w.port, post('/webhook', ['X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${hmac(body)}`, `X-Hub-Signature-256: sha256=${'0'.repeat(64)}`], body));
    await expectSurvived(r, [401]);
  });

  it('duplicate poke timestamps, a timestamp that is not a number, huge or negative', async () => {
    for (const ts of [['x-letta-memfs-timestamp: 1', 'x-letta-memfs-timestamp: 2'], ['x-letta-memfs-timestamp: NaN'], ['x-letta-memfs-timestamp: 1e400'], ['x-letta-memfs-timestamp: -5']]) {
      const h = pokeHeaders(w.agentId).filter((l) => !l.startsWith('x-letta-memfs-timestamp'));
      await expectSurvived(await raw(w.port, post(`/poke/${w.agentId}`, [...h, ...ts])), [401]);
    }
  });

  it('a 20 KB header, 200 headers, a NUL in a header value', async () => {
    await expectSurvived(await raw(w.port, post('/webhook', [`X-Big: ${'a'.repeat(20_000)}`])), [431], false);
    await expectSurvived(await raw(w.port, post('/webhook', Array.from({ length: 200 }, (_, i) => `X-H${i}: ${i}`))), [400], true);
    await expectSurvived(await raw(w.port, post('/webhook', ['X-GitHub-Event: pu\x00sh'])), [400], false);
  });

  it('no Host header; conflicting Content-Length; Content-Length with Transfer-Encoding; bad lengths', async () => {
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Content-Length: 0'])), [400], false);
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: 1', 'Content-Length: 2'], 'ab')), [400], false);
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: 3', 'Transfer-Encoding: chunked'], '0\r\n\r\n')), [400], false);
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: -1'])), [400], false);
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: abc'])), [400], false);
    await expectSurvived(await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked'], 'zz\r\nab\r\n0\r\n\r\n')), [400], false);
  });
});

describe('class 2: bodies', () => {
  it('a declared 10 MB body is refused at once, before it is sent', async () => {
    const r = await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'X-GitHub-Event: push', 'Content-Length: 10485760']));
    await expectSurvived(r, [413]);
  });

  it('a chunked body past the cap is refused with 413 and the socket closed', async () => {
    const chunk = 'a'.repeat(64 * 1024);
    const body = `${`${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(6)}0\r\n\r\n`;
    const r = await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'X-GitHub-Event: push', 'Transfer-Encoding: chunked'], body));
    expect(r.closed).toBe(true);
    await expectSurvived(r, [413]);
  });

  it('a truncated body (client closes early) and a client reset mid-body', async () => {
    await expectSurvived(await raw(w.port, post('/webhook', ['X-GitHub-Event: push'], '{"a":1}').subarray(0, 90), { after: (s) => s.end() }), [400, undefined], false);
    const r = await raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: 1000'], 'abc'), { after: (s) => setTimeout(() => s.resetAndDestroy(), 50) });
    await expectSurvived(r, [undefined]);
  });

  it.each([
    ['not JSON', '{"ref": "refs/heads/main"', 400],
    ['form-encoded payload that is not JSON', 'payload=%7Bnope', 400],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400],
  ])('a signed body that is %s', async (_name, body, status) => {
    await expectSurvived(await raw(w.port, gh(body as string)), [status]);
  });

  it.each([
    ['a ref whose toString is not callable', { ref: { toString: 1 } }],
    ['a ref that is an array', { ref: ['refs/heads/main'] }],
    ['repository URLs of the wrong types', { repository: { clone_url: 5, ssh_url: {}, url: null } }],
    ['a repository that is a string', { repository: 'x' }],
  ])('a signed push with %s is ignored (202), never a crash', async (_name, patch) => {
    await expectSurvived(await raw(w.port, gh(fresh(patch))), [202]);
  });

  it.each([['null'], ['[]'], ['"text"'], ['12']])('a signed push whose payload is %s', async (body) => {
    await expectSurvived(await raw(w.port, gh(body)), [202]);
  });
});

describe('class 2: timing', () => {
  it('slow headers (slowloris) and a slow body are cut off by the server', async () => {
    const drip = (s: net.Socket) => {
      const t = setInterval(() => (s.writable ? s.write('a') : clearInterval(t)), 500);
      s.on('close', () => clearInterval(t));
    };
    const [headers, body] = await Promise.all([
      raw(w.port, 'POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ', { after: drip, timeoutMs: 25_000 }),
      raw(w.port, req(['POST /webhook HTTP/1.1', 'Host: x', 'Content-Length: 100000']), { after: drip, timeoutMs: 25_000 }),
    ]);
    expect(headers.closed).toBe(true);
    expect(body.closed).toBe(true);
    await expectSurvived(headers, [408, undefined], false);
    await expectSurvived(body, [408, 400, undefined], false);
  }, 40_000);

  it('300 idle connections are closed by the server, then it serves again', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 300 }, () => new Promise<net.Socket>((r) => {
        const s = net.connect(w.port, '127.0.0.1', () => r(s));
        s.on('error', () => r(s));
      })),
    );
    const closed = await Promise.all(sockets.map((s) => new Promise<boolean>((r) => {
      if (s.destroyed) return r(true);
      const t = setTimeout(() => (s.destroy(), r(false)), 25_000);
      s.on('close', () => (clearTimeout(t), r(true)));
    })));
    expect(closed.every(Boolean)).toBe(true);
    await expectSurvived({ status: 400, headers: '', body: '{"error":"x","fix":"y"}', closed: true }, [400]);
  }, 40_000);

  it('a pull in flight completes while malformed requests keep coming', async () => {
    const pushed = await clientPush(w.h.extPath(w.agentId), path.join(w.h.root, 'client'), 'system/human.md', 'in flight\n');
    const poke = await raw(w.port, post(`/poke/${w.agentId}`, pokeHeaders(w.agentId)));
    expect(poke.status).toBe(202);
    const junk = ['/poke/%', '/webhook/%%', '/poke/%00'].flatMap((t) => Array.from({ length: 20 }, () => raw(w.port, post(t, []))));
    expect((await Promise.all(junk)).map((r) => r.status)).toEqual(Array(60).fill(400));
    const end = Date.now() + 30_000;
    while (!w.h.letta.calls.some((c) => c.head === pushed) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(w.h.letta.calls.map((c) => c.head)).toContain(pushed);
    await expectSurvived(poke, [202]);
  }, 60_000);
});

describe('class 9: replays are refused by what the signature covers', () => {
  const redeliver = async (first: Buffer, again: Buffer) => {
    await expectSurvived(await raw(w.port, first), [202]);
    await expectSurvived(await raw(w.port, again), [409]);
  };

  it('GitHub: the same signed body without its delivery id', async () => {
    const body = fresh();
    await redeliver(gh(body, ['X-GitHub-Delivery: d-1']), gh(body));
  });

  it('GitHub: the same signed body with a new delivery id', async () => {
    const body = fresh();
    await redeliver(gh(body, ['X-GitHub-Delivery: d-2']), gh(body, ['X-GitHub-Delivery: d-3']));
  });

  it('GitHub: the same body with the signature in upper case', async () => {
    const body = fresh();
    await redeliver(gh(body), post('/webhook', ['X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${hmac(body).toUpperCase()}`], body));
  });

  it('Gitea: the same signed body without X-Gitea-Delivery', async () => {
    const body = fresh();
    const gt = (extra: string[]) => post('/webhook', ['X-Gitea-Event: push', `X-Gitea-Signature: ${hmac(body)}`, ...extra], body);
    await redeliver(gt(['X-Gitea-Delivery: g-1']), gt([]));
  });

  it('GitLab: the same body without X-Gitlab-Event-UUID', async () => {
    const body = fresh();
    const gl = (extra: string[]) => post('/webhook', ['X-Gitlab-Event: Push Hook', `X-Gitlab-Token: ${SECRET}`, ...extra], body);
    await redeliver(gl(['X-Gitlab-Event-UUID: u-1']), gl([]));
  });

  // Issue 17 class 8: the key was per source, so the same signed body under another host's headers passed.
  it('a GitHub delivery replayed under Gitea and Forgejo headers (the same HMAC of the body)', async () => {
    const body = fresh();
    const asGitea = post('/webhook', ['X-Gitea-Event: push', `X-Gitea-Signature: ${hmac(body)}`, 'X-Gitea-Delivery: g-9'], body);
    await redeliver(gh(body, ['X-GitHub-Delivery: d-9']), asGitea);
    const asForgejo = post('/webhook', ['X-Forgejo-Event: push', `X-Forgejo-Signature: ${hmac(body)}`], body);
    await expectSurvived(await raw(w.port, asForgejo), [409]);
  });

  it('a GitLab delivery replayed as a signed GitHub one', async () => {
    const body = fresh();
    await redeliver(post('/webhook', ['X-Gitlab-Event: Push Hook', `X-Gitlab-Token: ${SECRET}`, 'X-Gitlab-Event-UUID: u-9'], body), gh(body));
  });

  it('a form-encoded GitHub delivery replayed without its delivery id', async () => {
    const body = `payload=${encodeURIComponent(fresh())}`;
    await redeliver(gh(body, ['X-GitHub-Delivery: f-1', 'Content-Type: application/x-www-form-urlencoded']), gh(body));
  });

  it('a poke replayed as is, and with its timestamp spelled differently', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const h = pokeHeaders(w.agentId, ts);
    await redeliver(post(`/poke/${w.agentId}`, h), post(`/poke/${w.agentId}`, h));
    const h2 = pokeHeaders(w.agentId, ts);
    const respelled = h2.map((l) => (l.startsWith('x-letta-memfs-timestamp') ? `x-letta-memfs-timestamp: ${ts}.0` : l));
    await redeliver(post(`/poke/${w.agentId}`, h2), post(`/poke/${w.agentId}`, respelled));
  });

  it('a poke outside the time window, and one for an agent it was not signed for', async () => {
    await expectSurvived(await raw(w.port, post(`/poke/${w.agentId}`, pokeHeaders(w.agentId, Math.floor(Date.now() / 1000) - 3600))), [401]);
    const other = w.agentId.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    await expectSurvived(await raw(w.port, post(`/poke/${other}`, pokeHeaders(w.agentId))), [401]);
  });

  it('two different signed pushes are both accepted', async () => {
    await expectSurvived(await raw(w.port, gh(fresh())), [202]);
    await expectSurvived(await raw(w.port, gh(fresh())), [202]);
  });
});

describe('class 4: an endpoint that cannot listen ends watch with a one-line error', () => {
  // A memfs root of its own, with an agent that no init has seen: a watch that got as far as its first scan
  // would set it up, which the snapshots catch.
  let h: Harness;
  beforeAll(async () => {
    h = await makeHarness();
    await h.addAgent();
    fs.writeFileSync(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url }));
  });
  afterAll(async () => h.cleanup());
  const watch = (args: string[]) =>
    runHostile(['watch', '--memfs-root', h.memfsRoot, '--interval', '3600', ...args], { cwd: h.root, env: { LETTA_MEMFS_WEBHOOK_SECRET: SECRET }, timeoutMs: 15_000 });

  it.each([
    ['--port 70000', ['--port', '70000'], 2, /--port .*0 to 65535/],
    ['--port=-1', ['--port=-1'], 2, /--port/],
    ['--port abc', ['--port', 'abc'], 2, /--port/],
    ['--port ""', ['--port', ''], 2, /--port/],
    ['--port 1.5', ['--port', '1.5'], 2, /--port/],
    ['--host nosuch.invalid', ['--host', 'nosuch.invalid'], 2, /--host .*IP address/],
    ['--host "a b"', ['--host', 'a b'], 2, /--host/],
    ['--host 999.1.1.1', ['--host', '999.1.1.1'], 2, /--host/],
    ['--host 10.255.255.1 (not this machine)', ['--host', '10.255.255.1', '--port', '0'], 1, /no such address on this machine/],
    ['--host ::ffff:10.255.255.2 (not this machine)', ['--host', '::ffff:10.255.255.2', '--port', '0'], 1, /cannot listen/],
  ])('%s', async (_name, args, code, pattern) => {
    const before = snapshotAll([h.memfsRoot]);
    const r = await watch(args);
    expectRefused(r, code, pattern);
    expect(snapshotAll([h.memfsRoot])).toEqual(before);
    expect(r.err + r.out).not.toContain(SECRET);
  });

  it('the port of the running watch is taken: exit 1, the running one keeps serving', async () => {
    const before = snapshotAll([h.memfsRoot]);
    const started = Date.now();
    const r = await watch(['--port', String(w.port)]);
    console.log(`watch on a taken port exited ${r.code} after ${Date.now() - started} ms`);
    expectRefused(r, 1, /port is taken.*fix: stop the process using it, or pass a free --port/);
    expect(snapshotAll([h.memfsRoot])).toEqual(before);
    await expectSurvived({ status: 202, headers: '', body: '', closed: true }, [202]);
  });

  it('a port taken by another program (a plain TCP listener)', async () => {
    const other = net.createServer();
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    try {
      const r = await watch(['--port', String((other.address() as net.AddressInfo).port)]);
      expectRefused(r, 1, /port is taken/);
    } finally {
      other.close();
    }
  });

  it.each([
    ['webhookPort 99999', { webhookPort: 99999 }, /--port \(webhookPort\)/],
    ['webhookHost "example.com"', { webhookHost: 'example.com' }, /--host \(webhookHost\)/],
  ])('config %s is a usage error (exit 2)', async (_name, patch, pattern) => {
    const cfg = path.join(h.root, 'bad-config.json');
    fs.writeFileSync(cfg, JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url, ...patch }));
    const before = snapshotAll([h.memfsRoot]);
    expectRefused(await watch(['--config', cfg]), 2, pattern);
    expect(snapshotAll([h.memfsRoot])).toEqual(before);
  });
});
