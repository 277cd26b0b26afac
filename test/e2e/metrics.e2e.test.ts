// `watch`'s GET /metrics scraped before and after each half of a round trip against a real patched Letta and a real
// git host: the counters move by exactly what happened (one pull, one sync with a recompile, one host-to-block
// latency; then one pull and one push out), and the scrape names no agent and holds no secret.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { parseScrape } from '../helpers/daemon.js';
import { CliProcess, cliOk, runCli } from './helpers/cli.js';
import { Client } from './helpers/client.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { LettaServer } from './helpers/server.js';

const version = lettaVersion();
const TOKEN = `tok-${Math.random().toString(36).slice(2)}`;
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;
const SECRET = `hook-${Math.random().toString(36).slice(2)}`;
let server: LettaServer;
let host: GitHost;
let api: Rest;
let watch: CliProcess | undefined;
const scratch: string[] = [];

beforeAll(async () => {
  [server, host] = await Promise.all([
    LettaServer.start({ venv: inject('lettaVenv'), patchedDir: inject('lettaPatched'), name: 'metrics', password: PASSWORD }),
    startGitHost({ user: 'git', token: TOKEN }),
  ]);
  api = new Rest(server.url, PASSWORD);
});

afterAll(async () => {
  await watch?.stop();
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function serverEnv(): NodeJS.ProcessEnv {
  return {
    LETTA_MEMFS_ROOT: server.memfsRoot,
    LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
    LETTA_BASE_URL: server.url,
    LETTA_MEMFS_GIT_TOKEN: TOKEN,
    LETTA_SERVER_PASSWORD: PASSWORD,
    LETTA_MEMFS_WEBHOOK_SECRET: SECRET,
  };
}

async function scrape(base: string): Promise<{ text: string; at: Map<string, number> }> {
  const r = await fetch(`${base}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  return { text, at: parseScrape(text) };
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; watch output:\n${watch?.log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const headOf = (gitDir: string) => execFileSync('git', ['--git-dir', gitDir, 'rev-parse', 'main'], { encoding: 'utf8' }).trim();

describe(`letta ${version}: watch's /metrics during a round trip`, () => {
  it('counts one pull, one sync, one recompile and one host-to-block latency in; one pull and one push out', async () => {
    const agent = await api.createAgent('metrics');
    await host.createRepo(`agents/${agent.id}.git`);
    // The mode named: this test is about the counters, not about init's detection of the patch.
    cliOk(['init', '--server', '--mode', 'patched', '--agent', agent.id], serverEnv());
    const seeded = runCli(['pull', '--agent', agent.id], serverEnv());
    expect(seeded.code, `${seeded.stdout}${seeded.stderr}`).toBe(0);
    const client = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token: TOKEN });
    scratch.push(client.home);
    client.init();

    watch = await CliProcess.start(['watch', '--port', '0', '--interval', '3600'], serverEnv());
    await watch.waitFor(/metrics on \/metrics/);
    const base = /webhooks on (http:\/\/[^/\s]+)\/webhook/.exec(watch.log)![1];
    // The startup pull of the one agent: nothing to move, so no sync; after it, the baseline.
    const before = await until('the startup pull', () => scrape(base), (s) => s.at.get('lmh_pulls_total{outcome="ok"}') === 1);
    expect(before.at.get('lmh_agents')).toBe(1);
    expect(before.at.get('lmh_pending_syncs')).toBe(0);
    expect(before.at.get('lmh_conflict_refs')).toBe(0);
    expect(before.at.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    // In: a client push to the host, announced by a GitLab-style push webhook.
    client.write('system/human.md', blockFile({ description: 'Facts about Ada' }, 'Ada moved to Porto.'));
    client.git('commit', '-q', '-am', 'human: Porto');
    client.git('push', '-q', 'origin', 'main');
    const hook = await fetch(`${base}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET },
      body: JSON.stringify({ ref: 'refs/heads/main', project: { git_http_url: `${host.url}/agents/${agent.id}.git` } }),
    });
    expect(hook.status, await hook.text()).toBe(202);
    const mid = await until('the webhook pull', () => scrape(base), (s) => s.at.get('lmh_pulls_total{outcome="ok"}') === 2);
    expect((await api.blockByLabel(agent.id, 'system/human'))!.value).toBe('Ada moved to Porto.');
    const delta = (s: { at: Map<string, number> }, from: { at: Map<string, number> }, key: string) => (s.at.get(key) ?? 0) - (from.at.get(key) ?? 0);
    const moved = (s: { at: Map<string, number> }, from: { at: Map<string, number> }) =>
      Object.fromEntries(
        [
          'lmh_pulls_total{outcome="ok"}',
          'lmh_pulls_total{outcome="failed"}',
          'lmh_pulls_total{outcome="conflict"}',
          'lmh_pushes_total{outcome="ok"}',
          'lmh_pushes_total{outcome="failed"}',
          'lmh_syncs_total{outcome="synced"}',
          'lmh_syncs_total{outcome="marked"}',
          'lmh_syncs_total{outcome="failed"}',
          'lmh_recompiles_total{outcome="ok"}',
          'lmh_recompiles_total{outcome="failed"}',
          'lmh_host_to_block_seconds_count',
        ].map((k) => [k, delta(s, from, k)]),
      );
    expect(moved(mid, before)).toEqual({
      'lmh_pulls_total{outcome="ok"}': 1,
      'lmh_pulls_total{outcome="failed"}': 0,
      'lmh_pulls_total{outcome="conflict"}': 0,
      'lmh_pushes_total{outcome="ok"}': 0,
      'lmh_pushes_total{outcome="failed"}': 0,
      'lmh_syncs_total{outcome="synced"}': 1,
      'lmh_syncs_total{outcome="marked"}': 0,
      'lmh_syncs_total{outcome="failed"}': 0,
      // system/ changed: the sync asked Letta to recompile.
      'lmh_recompiles_total{outcome="ok"}': 1,
      'lmh_recompiles_total{outcome="failed"}': 0,
      'lmh_host_to_block_seconds_count': 1,
    });
    // From the webhook to Letta's acknowledgement: within the test's own wait.
    expect(delta(mid, before, 'lmh_host_to_block_seconds_sum')).toBeGreaterThan(0);
    expect(delta(mid, before, 'lmh_host_to_block_seconds_sum')).toBeLessThan(60);

    // Out: a block edited over REST is a Letta commit that watch pushes to the host.
    const persona = (await api.blockByLabel(agent.id, 'system/persona'))!;
    await api.ok('PATCH', `/v1/blocks/${persona.id}`, { value: 'I answer in haiku.' });
    const serverHead = headOf(server.repoGitDir(agent.id));
    await until('the push out', async () => host.git(`agents/${agent.id}.git`, ['rev-parse', 'main']), (h) => h === serverHead, 30_000);
    const after = await until('the push counted', () => scrape(base), (s) => s.at.get('lmh_pushes_total{outcome="ok"}') === 1);
    expect(moved(after, mid)).toEqual({
      'lmh_pulls_total{outcome="ok"}': 1,
      'lmh_pulls_total{outcome="failed"}': 0,
      'lmh_pulls_total{outcome="conflict"}': 0,
      'lmh_pushes_total{outcome="ok"}': 1,
      'lmh_pushes_total{outcome="failed"}': 0,
      'lmh_syncs_total{outcome="synced"}': 0,
      // Letta's own commit needs no sync: the pull acknowledges it before it starts (pull.ts markOnly), no delivery.
      'lmh_syncs_total{outcome="marked"}': 0,
      'lmh_syncs_total{outcome="failed"}': 0,
      'lmh_recompiles_total{outcome="ok"}': 0,
      'lmh_recompiles_total{outcome="failed"}': 0,
      'lmh_host_to_block_seconds_count': 0,
    });
    expect(after.at.get('lmh_pending_syncs')).toBe(0);
    expect(after.at.get('lmh_backoff_agents')).toBe(0);

    // Bounded and clean: no agent id, no secret, no repo content in what any scraper can read.
    for (const text of [before.text, mid.text, after.text]) {
      for (const secret of [agent.id, TOKEN, PASSWORD, SECRET, 'Porto', 'haiku']) expect(text).not.toContain(secret);
    }
    expect(await watch.stop()).toBe(0);
    watch = undefined;
  });
});
