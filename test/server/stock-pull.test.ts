// Stock mode's pull path against the real `serve` on real repos: main moves only by a push through "Letta's"
// /v1/git/ (here a small stand-in for its proxy: it forwards /v1/git/<agent>/state.git/* to the service with the
// org header, as letta/server/rest_api/routers/v1/git_http.py @ 0.16.7 does, and records every request), never by
// update-ref, and nothing calls sync-from-git. The e2e suite runs the same against an unpatched Letta.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pullAgent } from '../../src/server/repo/pull.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import type { LettaClientOptions } from '../../src/server/letta/letta-api.js';
import { g, ORG_ID, serverEdit } from '../fixtures/server-repo.js';
import { memfsFile, type Service, startService } from '../memfs-service/fixture.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

let h: Harness;
let svc: Service;
let proxy: http.Server;
let letta: LettaClientOptions;
const seen: { method: string; path: string; userId?: string }[] = [];

beforeEach(async () => {
  h = await makeHarness({ config: { serverMode: 'stock', lettaUserId: 'user-11111111-1111-4111-8111-111111111111' } });
  svc = await startService({ root: h.memfsRoot });
  seen.length = 0;
  proxy = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', userId: req.headers.user_id as string | undefined });
    const m = /^\/v1\/git\/(agent-[0-9a-f-]{36})\/state\.git(\/.*)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(404).end('{"detail":"Not Found"}');
    const headers = { ...req.headers, host: `127.0.0.1:${svc.port}`, 'x-organization-id': ORG_ID };
    const up = http.request({ host: '127.0.0.1', port: svc.port, method: req.method, path: `/${svc.secret}/git/${m[1]}/state.git${m[2]}`, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  letta = { ...h.lettaOpts, baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, mode: 'stock' };
});
afterEach(async () => {
  await new Promise<void>((r) => proxy.close(() => r()));
  await svc.stop();
  svc.cleanup();
  await h.cleanup();
});

/** main's reflog messages: update-ref by a pull writes `letta-memfs-hooks: ...`, a push through the service `push`. */
const reflog = (gitDir: string) => g(gitDir, ['--git-dir', gitDir, 'reflog', 'show', '--format=%gs', 'refs/heads/main']);
const receivePacks = () => seen.filter((s) => s.method === 'POST' && s.path.endsWith('/git-receive-pack'));

describe('stock mode pull', () => {
  it('fast-forwards main by a push through /v1/git/ (as the configured actor), records it as synced, calls nothing else; idle costs nothing', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    expect((await pullAgent(a, { config: h.config, letta })).steps).toEqual(['seed']);
    expect(seen).toEqual([]);

    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', memfsFile('About the human', 'Grace'));
    const out = await pullAgent(a, { config: h.config, letta });
    expect(out.error).toBeUndefined();
    expect(out.steps).toEqual(['fast-forward']);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
    expect(receivePacks()).toHaveLength(1);
    expect(receivePacks()[0].userId).toBe('user-11111111-1111-4111-8111-111111111111');
    expect(seen.every((s) => s.path.startsWith(`/v1/git/${a.agentId}/state.git/`))).toBe(true);
    expect(await reflog(a.gitDir)).not.toMatch(/letta-memfs-hooks:/);
    expect(h.letta.calls).toEqual([]);
    expect((await readSyncState(a.gitDir)).lastSynced).toBe(pushed);

    const before = seen.length;
    expect((await pullAgent(a, { config: h.config, letta })).steps).toEqual([]);
    expect(seen.length).toBe(before);
  });

  it('a push refused because a server commit moved main meanwhile is fetched and merged again; both sides kept', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta });
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/a.md', memfsFile('Notes', 'from the host'));
    let s1 = '';
    let once = true;
    const out = await pullAgent(a, {
      config: h.config,
      letta,
      inject: {
        beforeUpdateRef: async () => {
          if (!once) return;
          once = false;
          s1 = await serverEdit(a.gitDir, { label: 'system/persona', content: 'I am helpful\n' });
        },
      },
    });
    expect(out.error).toBeUndefined();
    expect(out.steps).toEqual(['merge', 'push']);
    const head = await rev(a.gitDir, 'main');
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(head);
    expect(await rev(a.gitDir, `${head}^1`)).toBe(c1);
    expect(await rev(a.gitDir, `${head}^2`)).toBe(s1);
    // Two pushes through /v1/git/: the fast-forward, refused by git before sending anything (main had moved), and
    // the merge. No update-ref, no sync call.
    expect(seen.filter((s) => s.path.endsWith('/info/refs?service=git-receive-pack'))).toHaveLength(2);
    expect(receivePacks()).toHaveLength(1);
    expect(await reflog(a.gitDir)).not.toMatch(/letta-memfs-hooks:/);
    expect(h.letta.calls).toEqual([]);
    expect((await readSyncState(a.gitDir)).lastSynced).toBe(head);
  });
});
