import { createHmac } from 'node:crypto';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerContext } from '../../src/server/setup/context.js';
import { setupServer } from '../../src/server/setup/init-server.js';
import { pullAgent } from '../../src/server/repo/pull.js';
import { mergeReasons, Watcher } from '../../src/server/watch/watcher.js';
import { agentFromPayload, normalizeGitUrl, verifyRequest } from '../../src/server/watch/webhook.js';
import { signPoke } from '../../src/sync/poke-signature.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const SECRET = 'whsec-0123456789';
const ID = 'agent-123e4567-e89b-42d3-a456-426614174000';
const hmac = (body: string) => createHmac('sha256', SECRET).update(body).digest('hex');

describe('webhook decisions (pure)', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  it('verifies GitHub, Gitea and GitLab signatures and refuses bad ones', () => {
    const gh = { 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body.toString())}`, 'x-github-delivery': 'd1' };
    expect(verifyRequest('POST', '/webhook', gh, body, SECRET)).toMatchObject({ ok: true, source: 'github', event: 'push', deliveryId: 'd1' });
    expect(verifyRequest('POST', '/webhook', { ...gh, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
    const gitea = { 'x-gitea-event': 'push', 'x-gitea-signature': hmac(body.toString()), 'x-gitea-delivery': 'g1', 'x-github-event': 'push' };
    expect(verifyRequest('POST', '/webhook', gitea, body, SECRET)).toMatchObject({ ok: true, source: 'gitea' });
    expect(verifyRequest('POST', '/webhook', { ...gitea, 'x-gitea-signature': hmac('other') }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
    const gl = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'u1' };
    expect(verifyRequest('POST', '/webhook', gl, body, SECRET)).toMatchObject({ ok: true, source: 'gitlab', deliveryId: 'u1' });
    expect(verifyRequest('POST', '/webhook', { ...gl, 'x-gitlab-token': `${SECRET}x` }, body, SECRET)).toMatchObject({ ok: false, status: 401 });
    expect(verifyRequest('POST', '/webhook', {}, body, SECRET)).toMatchObject({ ok: false, status: 400 });
    expect(verifyRequest('POST', '/webhook', gh, Buffer.alloc(300 * 1024), SECRET)).toMatchObject({ ok: false, status: 413 });
  });

  it('verifies signed pokes inside the time window only', () => {
    const now = 1_800_000_000;
    const h = signPoke(SECRET, ID, now);
    expect(verifyRequest('POST', `/poke/${ID}`, h, Buffer.alloc(0), SECRET, now + 10)).toMatchObject({ ok: true, source: 'poke', agentId: ID });
    expect(verifyRequest('POST', `/poke/${ID}`, h, Buffer.alloc(0), SECRET, now + 301)).toMatchObject({ ok: false, status: 401 });
    expect(verifyRequest('POST', `/poke/${ID}`, signPoke('wrong', ID, now), Buffer.alloc(0), SECRET, now)).toMatchObject({ ok: false, status: 401 });
    const other = ID.replace('4000', '4001');
    expect(verifyRequest('POST', `/poke/${other}`, h, Buffer.alloc(0), SECRET, now)).toMatchObject({ ok: false, status: 401 });
    // Two pokes in the same second are two deliveries, not a replay; a poke without its nonce is refused.
    const again = verifyRequest('POST', `/poke/${ID}`, signPoke(SECRET, ID, now), Buffer.alloc(0), SECRET, now);
    const first = verifyRequest('POST', `/poke/${ID}`, h, Buffer.alloc(0), SECRET, now);
    expect(again.ok && first.ok && again.replayKey !== first.replayKey).toBe(true);
    const { 'x-letta-memfs-nonce': _nonce, ...noNonce } = h;
    expect(verifyRequest('POST', `/poke/${ID}`, noNonce, Buffer.alloc(0), SECRET, now)).toMatchObject({ ok: false, status: 401 });
  });

  it('a poke or webhook coalescing into a queued run makes it theirs (a pull without the probe)', () => {
    for (const queued of ['periodic', 'pending', 'maintain', 'local-move', 'startup'] as const) expect(mergeReasons(queued, 'poke')).toBe('poke');
    expect(mergeReasons('periodic', 'webhook')).toBe('webhook');
    expect(mergeReasons('webhook', 'poke')).toBe('webhook');
    expect(mergeReasons('poke', 'periodic')).toBe('poke');
    expect(mergeReasons('pending', 'local-move')).toBe('pending');
  });

  it('maps payload repository URLs to agents through the remote template, main only', () => {
    const t = 'https://git.example.com/agents/{agentId}.git';
    expect(agentFromPayload({ ref: 'refs/heads/main', repository: { clone_url: `https://git.example.com/agents/${ID}.git` } }, t)).toEqual({ agentId: ID });
    expect(agentFromPayload({ ref: 'refs/heads/main', repository: { ssh_url: `git@git.example.com:agents/${ID}.git` } }, t)).toEqual({ agentId: ID });
    expect(agentFromPayload({ ref: 'refs/heads/main', project: { git_http_url: `https://git.example.com:443/agents/${ID}.git` } }, t)).toEqual({ agentId: ID });
    expect(agentFromPayload({ ref: 'refs/heads/dev', repository: { clone_url: `https://git.example.com/agents/${ID}.git` } }, t).agentId).toBeUndefined();
    expect(agentFromPayload({ ref: 'refs/heads/main', repository: { clone_url: `https://evil.example.com/agents/${ID}.git` } }, t).agentId).toBeUndefined();
    expect(agentFromPayload({ ref: 'refs/heads/main', repository: { clone_url: `https://git.example.com/agents/${ID}.git` } }, t, [])).toEqual({ reason: 'repository matches no agent remote' });
    expect(normalizeGitUrl('ssh://git@Host.example.com:22/a/b.git/')).toBe('host.example.com/a/b');
  });
});

describe('watch: webhooks and pokes trigger a pull', () => {
  let h: Harness;
  let w: Watcher;
  let url: string;
  let agentId: string;
  let extUrl: string;
  beforeEach(async () => {
    h = await makeHarness({ password: 'pw-secret-2' });
    const a = await h.addAgent();
    agentId = a.agentId;
    extUrl = h.extPath(agentId);
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const ctx: ServerContext = { config: h.config, memfsRoot: h.memfsRoot, letta: h.lettaOpts };
    // Periodic pulls and ref polling far apart: only the webhook can trigger the pull measured here.
    w = new Watcher({ ctx, intervalSeconds: 3600, tickMs: 3_600_000, listen: { host: '127.0.0.1', port: 0 }, secret: SECRET });
    await w.start();
    await w.idle();
    url = `http://127.0.0.1:${w.address!.port}`;
  });
  afterEach(async () => {
    await w.stop();
    await h.cleanup();
  });

  const post = async (p: string, headers: Record<string, string>, body: string | Buffer) => {
    const r = await request(`${url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await r.body.text();
    return { status: r.statusCode, text };
  };
  // A real delivery names the pushed commit: two pushes never have the same body (the replay key is the body).
  const payload = (after = '0'.repeat(40)) => JSON.stringify({ ref: 'refs/heads/main', after, repository: { clone_url: extUrl }, project: { git_http_url: extUrl } });

  async function pushAndDeliver(headers: (body: string) => Record<string, string>) {
    const pushed = await clientPush(extUrl, path.join(h.root, 'client'), 'system/human.md', `edit ${Math.random()}\n`);
    const before = h.letta.calls.length;
    const body = payload(pushed);
    const r = await post('/webhook', headers(body), body);
    expect(r.status, r.text).toBe(202);
    await w.idle();
    expect(await rev(h.memfsRoot + '/repository/' + 'org-00000000-0000-4000-8000-000000000000/' + agentId + '/repo.git', 'main')).toBe(pushed);
    expect(h.letta.calls.slice(before)).toMatchObject([{ agentId, recompile: true, head: pushed, authorization: 'Bearer pw-secret-2' }]);
    return body;
  }

  it('GitHub, Gitea and GitLab push deliveries each give exactly one sync', async () => {
    await pushAndDeliver((b) => ({ 'x-github-event': 'push', 'x-github-delivery': 'gh-1', 'x-hub-signature-256': `sha256=${hmac(b)}` }));
    await pushAndDeliver((b) => ({ 'x-gitea-event': 'push', 'x-gitea-delivery': 'gt-1', 'x-gitea-signature': hmac(b), 'x-github-event': 'push' }));
    await pushAndDeliver(() => ({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': 'gl-1', 'x-gitlab-token': SECRET }));
    expect(h.letta.calls).toHaveLength(3);
  });

  it('a signed poke pulls; bad signature, replayed delivery, oversized body and non-push events trigger nothing', async () => {
    const pushed = await clientPush(extUrl, path.join(h.root, 'client'), 'notes/n.md', 'n\n');
    const body = payload();
    const good = { 'x-github-event': 'push', 'x-github-delivery': 'gh-9', 'x-hub-signature-256': `sha256=${hmac(body)}` };
    const bad = await post('/webhook', { ...good, 'x-hub-signature-256': `sha256=${hmac(body + 'x')}` }, body);
    expect(bad.status).toBe(401);
    const nonPush = await post('/webhook', { ...good, 'x-github-event': 'issues', 'x-github-delivery': 'gh-10' }, body);
    expect(nonPush.status).toBe(400);
    const big = Buffer.alloc(300 * 1024, 'a');
    const oversized = await post('/webhook', { ...good, 'x-hub-signature-256': `sha256=${hmac(big.toString())}`, 'x-github-delivery': 'gh-11' }, big);
    expect(oversized.status).toBe(413);
    const gitlabBad = await post('/webhook', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope', 'x-gitlab-event-uuid': 'gl-9' }, body);
    expect(gitlabBad.status).toBe(401);
    await w.idle();
    expect(h.letta.calls).toHaveLength(0);
    expect(await rev(h.memfsRoot + `/repository/org-00000000-0000-4000-8000-000000000000/${agentId}/repo.git`, 'main')).not.toBe(pushed);

    const first = await post('/webhook', good, body);
    expect(first.status).toBe(202);
    await w.idle();
    expect(h.letta.calls).toHaveLength(1);
    const pushed2 = await clientPush(extUrl, path.join(h.root, 'client'), 'notes/n.md', 'n2\n');
    const replay = await post('/webhook', good, body);
    expect(replay.status).toBe(409);
    await w.idle();
    expect(h.letta.calls).toHaveLength(1);

    const poke = await post(`/poke/${agentId}`, signPoke(SECRET, agentId), '');
    expect(poke.status).toBe(202);
    await w.idle();
    expect(h.letta.calls.map((c) => c.head)).toEqual([pushed, pushed2]);
  });
});
