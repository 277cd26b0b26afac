// Issue 17, classes 3 and 8 against the real `serve`: a push is refused when serve's pre-receive is missing or
// altered; a refused request's body is not read on; idle and half-sent sockets are cut within seconds; connections
// are capped; one agent's slow requests cannot take every git backend; malformed pkt-lines are a 400.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, newAgentId, ORG, startService, type Service } from './fixture.js';

let svc: Service;
let agent: string;
let gitDir: string;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-limits-');
  // 2 backends, 4 waiting: small enough that one agent could take them all.
  svc = await startService({ args: ['--max-backends', '2', '--queue', '4'] });
  agent = newAgentId();
  gitDir = createAgentRepo(svc.root, agent);
});

afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

const head = () => sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'refs/heads/main']);
const rpcPath = (a: string, service = 'git-upload-pack') => `/${svc.secret}/git/${a}/state.git/${service}`;

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(svc.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with when the socket was closed by the server (ms after `from`). */
const closedAfter = (s: net.Socket, from: number) =>
  new Promise<number>((resolve) => {
    s.on('error', () => undefined);
    s.once('close', () => resolve(Date.now() - from));
  });

/**
 * Sends a chunked POST head, then body chunks as fast as the socket takes them, up to `max` bytes; returns how many
 * bytes the server let in before it closed the connection (the first write error), and its status line.
 */
async function floodBody(target: string, headers: Record<string, string>, max: number): Promise<{ written: number; status: string }> {
  const s = await connect();
  let status = '';
  let closed = false;
  s.on('data', (d) => (status ||= d.toString('latin1').split('\r\n')[0]));
  s.on('error', () => (closed = true));
  s.on('close', () => (closed = true));
  const head = [`POST ${target} HTTP/1.1`, 'Host: x', 'Transfer-Encoding: chunked', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  s.write(head);
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  let written = 0;
  while (written < max && !closed) {
    const ok = s.write(framed);
    written += chunk.length;
    if (!ok) await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => s.once('close', r)), new Promise((r) => setTimeout(r, 2000))]);
  }
  s.destroy();
  return { written, status };
}

function commitFile(dir: string, file: string, content: string | Buffer): string {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', `edit ${file}`]);
  return sh(dir, ['rev-parse', 'HEAD']);
}

let n = 0;
async function clone(a = agent): Promise<string> {
  const dir = path.join(work.dir, `c${++n}`);
  const r = await gitClient(work.dir, ['clone', '-q', svc.base(a), dir]);
  expect(r.code, r.err).toBe(0);
  return dir;
}

describe('class 3: serve refuses a push its pre-receive cannot check', () => {
  const hook = () => path.join(svc.root, 'letta-memfs', 'serve-hooks', 'pre-receive');

  it.each([
    ['deleted', () => fs.rmSync(hook())],
    ['replaced by a script that accepts everything', () => fs.writeFileSync(hook(), '#!/bin/sh\nexit 0\n', { mode: 0o700 })],
    ['made writable by others', () => fs.chmodSync(hook(), 0o777)],
  ])('pre-receive %s: a push of a binary file to main is refused, main stays', async (_name, tamper) => {
    const original = fs.readFileSync(hook());
    const a = await clone();
    const before = head();
    tamper();
    try {
      commitFile(a, 'system/blob.md', Buffer.from([0, 1, 2, 0, 255, 0, ++n]));
      const push = await gitClient(a, ['push', 'origin', 'main']);
      expect(push.code, push.err).not.toBe(0);
      expect(head()).toBe(before);
      expect(svc.log()).toMatch(/pre-receive .* (missing|altered|writable)/);
    } finally {
      fs.rmSync(hook(), { force: true });
      fs.writeFileSync(hook(), original, { mode: 0o700 });
      fs.chmodSync(hook(), 0o700);
    }
    // Restored: a good push lands again.
    sh(a, ['reset', '-q', '--hard', 'HEAD~1']);
    const good = commitFile(a, `notes/ok-${n}.md`, 'fine\n');
    const push = await gitClient(a, ['push', 'origin', 'main']);
    expect(push.code, push.err).toBe(0);
    expect(head()).toBe(good);
  });
});

describe('class 8: resource limits', () => {
  it.each([
    ['an unknown agent (404)', () => rpcPath(newAgentId()), { 'X-Organization-Id': ORG, 'Content-Type': 'application/x-git-upload-pack-request' }],
    ['a wrong secret (404)', () => `/wrong-secret-wrong-secret-wrong/git/${agent}/state.git/git-upload-pack`, { 'X-Organization-Id': ORG }],
    ['a wrong content type (415)', () => rpcPath(agent), { 'X-Organization-Id': ORG, 'Content-Type': 'text/plain' }],
  ])('a request refused early (%s) is not read on: the connection closes', async (_name, target, headers) => {
    const r = await floodBody(target(), headers, 256 << 20);
    expect(r.status).toMatch(/^HTTP\/1\.1 4\d\d /);
    // Socket buffers on loopback hold a few MiB; a server that drains the body takes all 256 MiB.
    expect(r.written).toBeLessThan(32 << 20);
  });

  it('a socket that sends nothing, and one that sends its headers a byte a second, are cut within 15 s', async () => {
    const start = Date.now();
    const silent = await connect();
    const slow = await connect();
    const silentClosed = closedAfter(silent, start);
    const slowClosed = closedAfter(slow, start);
    const drip = setInterval(() => slow.writable && slow.write('G'), 1000);
    try {
      const [a, b] = await Promise.all([silentClosed, slowClosed]);
      expect(a).toBeLessThan(15_000);
      expect(b).toBeLessThan(15_000);
    } finally {
      clearInterval(drip);
    }
  }, 60_000);

  it('connections beyond the cap are closed at once; the service still serves after they go', async () => {
    const start = Date.now();
    const sockets = await Promise.all(Array.from({ length: 80 }, () => connect().catch(() => undefined)));
    const closed = sockets.map((s) => (s ? closedAfter(s, start) : Promise.resolve(0)));
    const early = await Promise.all(closed.map((p) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(Infinity), 2000))])));
    // --max-backends 2 --queue 4: the cap is 2 × (2 + 4) + 16 = 28.
    expect(early.filter((t) => t < 2000).length).toBeGreaterThanOrEqual(80 - 28);
    for (const s of sockets) s?.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const r = await gitClient(work.dir, ['ls-remote', svc.base(agent)]);
    expect(r.code, r.err).toBe(0);
  });

  it("one agent's slow requests leave a backend for another agent", async () => {
    const other = newAgentId();
    createAgentRepo(svc.root, other);
    // Six upload-pack requests of the first agent whose bodies never finish: each holds a git process or waits.
    const slow: net.Socket[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await connect();
      s.on('error', () => undefined);
      s.write([`POST ${rpcPath(agent)} HTTP/1.1`, 'Host: x', 'Transfer-Encoding: chunked', `X-Organization-Id: ${ORG}`, 'Content-Type: application/x-git-upload-pack-request', '', '4\r\n0032\r\n'].join('\r\n'));
      slow.push(s);
    }
    await new Promise((r) => setTimeout(r, 500));
    try {
      const started = Date.now();
      const r = await gitClient(work.dir, ['ls-remote', svc.base(other)]);
      expect(r.code, r.err).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const s of slow) s.destroy();
    }
  }, 90_000);

  it.each([
    ['git-upload-pack', 'zzzz not a pkt-line'],
    ['git-upload-pack', '0003'],
    ['git-receive-pack', 'ffff' + 'x'.repeat(100)],
  ])('a %s body of malformed pkt-lines (%j) is a 400, not a 500', async (service, body) => {
    const res = await fetch(`http://127.0.0.1:${svc.port}${rpcPath(agent, service)}`, {
      method: 'POST',
      headers: { 'X-Organization-Id': ORG, 'Content-Type': `application/x-${service}-request` },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/malformed pkt-line/);
  });
});
