// serve decides nothing from the org header alone: before any git runs it asks Letta whether the actor the proxy
// forwarded may reach the agent (the two-org attack on a real Letta is test/e2e/tenant-isolation.e2e.test.ts).
// Here: a Letta that cannot be asked fails closed, verdicts are cached briefly, a bad actor header is no actor.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessCheck, verdictOf } from '../../src/server/memfs-service/access.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, newAgentId, startService, type Service } from './fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];

/** A port nothing listens on: Letta down. */
function freePortOf(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function lettaDouble(answer: (url: string, headers: http.IncomingHttpHeaders) => [number, unknown]): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    calls.push(`${req.headers.user_id ?? '-'} ${req.url}`);
    const [status, body] = answer(req.url ?? '', req.headers);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  cleanups.push(() => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls })));
}

async function serveWith(lettaUrl: string, env: NodeJS.ProcessEnv = {}): Promise<{ svc: Service; agent: string; work: string }> {
  const t = tempDir('lmh-access-');
  const root = path.join(t.dir, 'memfs');
  fs.mkdirSync(root);
  const agent = newAgentId();
  createAgentRepo(root, agent);
  const svc = await startService({ root, args: ['--letta-url', lettaUrl], env });
  cleanups.push(() => t.cleanup(), () => svc.stop());
  return { svc, agent, work: t.dir };
}

describe('serve asks Letta who may reach an agent', () => {
  it('a Letta that cannot be reached or refuses our password is a 503, never a clone; no verdict is kept from it', async () => {
    const dead = `http://127.0.0.1:${await freePortOf()}`;
    const { svc, agent, work } = await serveWith(dead);
    const r = await gitClient(work, ['clone', '-q', svc.base(agent), path.join(work, 'c')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/503/);
    expect(svc.log()).toMatch(/refused GET agent-[0-9a-f-]+ git-upload-pack \(refs\) 503: cannot ask Letta/);

    const pw = await lettaDouble((_u, h) => (h.authorization === 'Bearer right-password' ? [200, { id: agent }] : [401, { detail: 'Unauthorized' }]));
    const wrong = await serveWith(pw.url, { LETTA_SERVER_PASSWORD: 'wrong-password' });
    const r2 = await gitClient(wrong.work, ['ls-remote', wrong.svc.base(wrong.agent)]);
    expect(r2.code).not.toBe(0);
    expect(r2.err).toMatch(/503/);
  });

  it('the actor header goes to Letta as given; a malformed or doubled one is a 400, not "no actor"', async () => {
    const user = 'user-22222222-2222-4222-8222-222222222222';
    let agentId = '';
    const l = await lettaDouble((url, h) => (h.user_id === user && url === `/v1/agents/${agentId}` ? [200, { id: agentId }] : [404, { detail: 'Not Found' }]));
    const { svc, agent, work } = await serveWith(l.url);
    agentId = agent;
    expect((await gitClient(work, ['-c', `http.extraHeader=user_id: ${user}`, 'ls-remote', svc.base(agent)])).code).toBe(0);
    const none = await gitClient(work, ['ls-remote', svc.base(agent)]);
    expect(none.code).not.toBe(0);
    expect(none.err).toMatch(/403/);
    for (const bad of [['user_id: user-nope'], [`user_id: ${user}`, `user_id: ${user}`], ['user_id: ']]) {
      const r = await gitClient(work, [...bad.flatMap((h) => ['-c', `http.extraHeader=${h}`]), 'ls-remote', svc.base(agent)]);
      expect(r.code, bad.join(' + ')).not.toBe(0);
    }
    expect(l.calls.filter((c) => !c.startsWith(user))).toEqual([`- /v1/agents/${agent}`]);
  });

  it('a verdict stands for its TTL, then Letta is asked again; the cache is bounded', async () => {
    let now = 0;
    let allowed = true;
    const l = await lettaDouble((url) => (allowed ? [200, { id: url.split('/').pop() }] : [404, {}]));
    const check = new AccessCheck({ lettaUrl: l.url, timeoutMs: 2_000, ttlMs: 30_000, maxEntries: 2, now: () => now });
    const a = newAgentId();
    expect(await check.check(undefined, a)).toBe('allow');
    allowed = false;
    now = 29_000;
    expect(await check.check(undefined, a)).toBe('allow');
    now = 30_001;
    expect(await check.check(undefined, a)).toBe('deny');
    await check.check(undefined, newAgentId());
    await check.check(undefined, newAgentId());
    allowed = true;
    expect(await check.check(undefined, a)).toBe('allow'); // evicted (bounded at 2), asked again
    expect(l.calls).toHaveLength(5);
  });

  it("verdictOf: only Letta's 200 for this very agent allows; our refused credentials or a 5xx are 'unavailable'", () => {
    const a = newAgentId();
    expect(verdictOf(200, JSON.stringify({ id: a }), a)).toBe('allow');
    expect(verdictOf(200, JSON.stringify({ id: newAgentId() }), a)).toBe('deny');
    expect(verdictOf(200, 'not json', a)).toBe('deny');
    expect(verdictOf(404, '', a)).toBe('deny');
    expect(verdictOf(422, '', a)).toBe('deny');
    for (const s of [401, 403, 429, 500, 502, undefined]) expect(verdictOf(s, '', a)).toBe('unavailable');
  });

  it('serve without --letta-url does not start: exit 2, one line with the fix', () => {
    const t = tempDir('lmh-access-cli-');
    cleanups.push(() => t.cleanup());
    const r = runCli(['serve', '--memfs-root', t.dir, '--port', '0'], { cwd: t.dir, env: { LETTA_MEMFS_SERVICE_SECRET: 'x'.repeat(32) } });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no --letta-url given: serve asks Letta who may reach each agent.*--letta-url http:\/\/127\.0\.0\.1:8283/s);
  });
});
