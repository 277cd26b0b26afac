/**
 * Issue 23 against the bundle: `watch` serves GET /metrics on its listener without the secret, its counters and
 * gauges follow what it did (a poke's pull and sync, a conflict ref, agents), nothing in a scrape names an agent;
 * `serve --metrics-port` serves /metrics on a listener of its own, counts requests and refused pushes, and its git
 * listener does not serve it; `status --server --table` lists agents with a problem first.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signPoke } from '../../src/sync/poke-signature.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { runCliAsync } from '../helpers/cli.js';
import { Daemon, parseScrape } from '../helpers/daemon.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

const SECRET = 'metrics-secret-123';
const SERVICE_SECRET = 's'.repeat(40);
let h: Harness;
let daemons: Daemon[];
beforeEach(async () => {
  h = await makeHarness();
  daemons = [];
});
afterEach(async () => {
  for (const d of daemons) await d.stop();
  await h.cleanup();
});

async function waitFor<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; logs:\n${daemons.map((d) => d.log).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const scrape = async (base: string) => {
  const r = await fetch(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  const text = await r.text();
  return { text, at: parseScrape(text) };
};
const env = () => ({ HOME: h.root, XDG_CONFIG_HOME: path.join(h.root, 'xdg') });

describe('watch GET /metrics', () => {
  it('counts a poke pull and its sync, gauges agents and conflict refs, and names no agent', async () => {
    const a = await h.addAgent();
    const b = await h.addAgent();
    await fs.writeFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url, syncRetries: 1 }));
    // A ref under the conflict prefix (left by hand): status calls it UNKNOWN REF, the gauge counts it.
    execFileSync('git', ['--git-dir', b.gitDir, 'update-ref', 'refs/letta-memfs/conflicts/by-hand', 'main']);
    const watch = Daemon.start(['watch', '--memfs-root', h.memfsRoot, '--interval', '3600', '--port', '0'], { ...env(), LETTA_MEMFS_WEBHOOK_SECRET: SECRET }, h.root);
    daemons.push(watch);
    const base = await watch.waitFor(/webhooks on (http:\/\/[^/\s]+)\/webhook/);
    // Both startup pulls seed the empty external repos.
    const before = await waitFor('startup pulls', () => scrape(base), (s) => s.at.get('lmh_pulls_total{outcome="ok"}') === 2);
    expect(before.at.get('lmh_agents')).toBe(2);
    expect(before.at.get('lmh_conflict_refs')).toBe(1);
    expect(before.at.get('lmh_pushes_total{outcome="ok"}')).toBe(2);
    expect(before.at.get('lmh_syncs_total{outcome="synced"}')).toBe(0);

    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'ca'), 'system/human.md', 'poked\n');
    const r = await fetch(`${base}/poke/${a.agentId}`, { method: 'POST', headers: signPoke(SECRET, a.agentId) });
    expect(r.status).toBe(202);
    await waitFor('poke synced', () => readSyncState(a.gitDir), (s) => s.lastSynced === pushed);
    const after = await waitFor('counted', () => scrape(base), (s) => s.at.get('lmh_pulls_total{outcome="ok"}') === 3);
    expect(after.at.get('lmh_syncs_total{outcome="synced"}')).toBe(1);
    expect(after.at.get('lmh_recompiles_total{outcome="ok"}')).toBe(1);
    expect(after.at.get('lmh_host_to_block_seconds_count')).toBe(1);
    expect(after.at.get('lmh_pushes_total{outcome="ok"}')).toBe(2);
    expect(after.at.get('lmh_pending_syncs')).toBe(0);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);

    // The conflict ref dealt with: the next pull of that agent counts it again.
    execFileSync('git', ['--git-dir', b.gitDir, 'update-ref', '-d', 'refs/letta-memfs/conflicts/by-hand']);
    const poke = await fetch(`${base}/poke/${b.agentId}`, { method: 'POST', headers: signPoke(SECRET, b.agentId) });
    expect(poke.status).toBe(202);
    await waitFor('conflict gauge', () => scrape(base), (s) => s.at.get('lmh_conflict_refs') === 0);

    for (const s of [before.text, after.text]) for (const secret of [a.agentId, b.agentId, SECRET, h.root]) expect(s).not.toContain(secret);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    expect(await watch.stop()).toBe(0);
  }, 90_000);
});

describe('watch --metrics-port', () => {
  it('serves /metrics on a listener of its own, also with --no-listen; not with --once', async () => {
    await h.addAgent();
    await fs.writeFile(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url }));
    const watch = Daemon.start(['watch', '--memfs-root', h.memfsRoot, '--interval', '3600', '--no-listen', '--metrics-port', '0'], env(), h.root);
    daemons.push(watch);
    const url = await watch.waitFor(/metrics on (http:\/\/\S+\/metrics)/);
    const s = await waitFor('startup pull', () => scrape(url.replace(/\/metrics$/, '')), (x) => x.at.get('lmh_pulls_total{outcome="ok"}') === 1);
    expect(s.at.get('lmh_agents')).toBe(1);
    expect((await fetch(url.replace(/\/metrics$/, '/webhook'), { method: 'POST' })).status).toBe(404);
    expect(await watch.stop()).toBe(0);
    const once = await runCliAsync(['watch', '--memfs-root', h.memfsRoot, '--once', '--metrics-port', '0'], { cwd: h.root, env: env() });
    expect(once.code).toBe(2);
    expect(once.err).toContain('--metrics-port is for a running watch, not --once');
  }, 60_000);
});

describe('status --server --table', () => {
  it('one line per agent, the one with a problem first; --json with it is a usage error', async () => {
    const ok = await h.addAgent(undefined, 'agent-00000000-0000-4000-8000-000000000001');
    const bad = await h.addAgent(undefined, 'agent-ffffffff-0000-4000-8000-000000000002');
    const init = await runCliAsync(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url], { cwd: h.root, env: env() });
    expect(init.code, init.err).toBe(0);
    execFileSync('git', ['--git-dir', bad.gitDir, 'update-ref', 'refs/letta-memfs/conflicts/by-hand', 'main']);
    const r = await runCliAsync(['status', '--server', '--memfs-root', h.memfsRoot, '--table'], { cwd: h.root, env: env() });
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+STATE\s+MAIN\s+EXTERNAL\s+SYNCED\s+PROBLEM$/);
    expect(lines[1]).toMatch(new RegExp(`^${bad.agentId}\\s+UNKNOWN REF\\s+[0-9a-f]{12}\\s+.*refs/letta-memfs/conflicts/by-hand: do not merge it$`));
    const head = execFileSync('git', ['--git-dir', ok.gitDir, 'rev-parse', '--short=12', 'main'], { encoding: 'utf8' }).trim();
    expect(lines[2]).toBe(`${ok.agentId}  ok           ${head}  -         ${head}`);
    expect(lines[3]).toMatch(/^2 agent\(s\) under .*: 0 pending sync\(s\), 0 conflict ref\(s\); server mode patched/);
    const both = await runCliAsync(['status', '--server', '--memfs-root', h.memfsRoot, '--table', '--json'], { cwd: h.root, env: env() });
    expect(both.code).toBe(2);
    expect(both.err).toContain('--table and --json are two views of the same status');
  }, 60_000);
});

describe('serve --metrics-port', () => {
  it('serves /metrics on its own listener only, and counts requests and refused pushes', async () => {
    const a = await h.addAgent();
    const serve = Daemon.start(
      ['serve', '--memfs-root', h.memfsRoot, '--letta-url', h.letta.url, '--port', '0', '--metrics-port', '0'],
      { ...env(), LETTA_MEMFS_SERVICE_SECRET: SERVICE_SECRET },
      h.root,
    );
    daemons.push(serve);
    const metricsBase = await serve.waitFor(/metrics on (http:\/\/[^/\s]+)\/metrics/);
    const gitBase = await serve.waitFor(/ on (http:\/\/[^/\s]+)\/<secret>/);
    // The git listener: /metrics is just an unknown path there; a wrong secret is a 404 counted under no service.
    expect((await fetch(`${gitBase}/metrics`)).status).toBe(404);
    const wrong = await fetch(`${gitBase}/${'x'.repeat(40)}/git/${a.agentId}/state.git/info/refs?service=git-receive-pack`);
    expect(wrong.status).toBe(404);
    // The Letta double knows no actor for this agent: Letta says no, a refused push (rule forbidden).
    const denied = await fetch(`${gitBase}/${SERVICE_SECRET}/git/${a.agentId}/state.git/info/refs?service=git-receive-pack`, {
      headers: { user_id: 'user-00000000-0000-4000-8000-00000000dead', 'x-organization-id': a.orgId },
    });
    expect(denied.status).toBe(403);
    const s = await scrape(metricsBase);
    expect(s.at.get('lmh_serve_requests_total{service="none",status="404"}')).toBe(2);
    expect(s.at.get('lmh_serve_requests_total{service="receive-pack",status="403"}')).toBe(1);
    expect(s.at.get('lmh_serve_push_refusals_total{rule="forbidden"}')).toBe(1);
    expect(s.at.get('lmh_serve_backend_queue_depth')).toBe(0);
    expect(s.at.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(s.text).not.toContain(SERVICE_SECRET);
    expect(s.text).not.toContain(a.agentId);
    expect((await fetch(`${metricsBase}/${SERVICE_SECRET}/git/${a.agentId}/state.git/info/refs?service=git-upload-pack`)).status).toBe(404);
    expect(await serve.stop()).toBe(0);

    const usage = await runCliAsync(['serve', '--memfs-root', h.memfsRoot, '--letta-url', h.letta.url, '--metrics-host', '0.0.0.0'], {
      cwd: h.root,
      env: { ...env(), LETTA_MEMFS_SERVICE_SECRET: SERVICE_SECRET },
    });
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--metrics-host without --metrics-port');
  }, 60_000);
});
