// Stock mode end to end: an UNPATCHED letta server with LETTA_MEMFS_SERVICE_URL pointing at our `serve`, the
// external git host fixture, a client checkout set up by `init`, and `watch` on the server side. External commits
// reach Letta only by a push through its own /v1/git/<agent>/state.git (the proxy in
// letta/server/rest_api/routers/v1/git_http.py @ 0.16.7, which then runs its own block sync); never update-ref
// plus sync-from-git. Every request the toolkit (watch, pull, serve) sends to Letta goes through a counting proxy,
// so the test sees each call: none to sync-from-git, none while idle.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { CliProcess, cliOkAsync, runCliAsync } from './helpers/cli.js';
import { startServe } from './helpers/serve.js';
import { Client } from './helpers/client.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile } from './helpers/repo.js';
import { Rest, type Block } from './helpers/rest.js';
import { freePort, LettaServer } from './helpers/server.js';
import { parseScrape } from '../helpers/daemon.js';

const version = lettaVersion();
const SECRET = randomBytes(24).toString('hex');
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const PROBE_AGENT = 'agent-00000000-0000-4000-8000-000000000000';
let server: LettaServer;
let host: GitHost;
let api: Rest;
let service: CliProcess;
let counter: ChildProcess;
let counterUrl = '';
const counterFile = join(mkdtempSync(join(tmpdir(), 'letta-e2e-counter-')), 'requests.jsonl');
const scratch: string[] = [dirname(counterFile)];

/**
 * A transparent, streaming HTTP proxy in front of Letta that appends each request (method and path) to a file. A
 * separate process: the client helper runs the CLI synchronously (spawnSync), which would stall a proxy living here.
 */
const COUNTER = `
const http = require('node:http');
const fs = require('node:fs');
const [target, file] = process.argv.slice(1);
const to = new URL(target);
const srv = http.createServer((req, res) => {
  fs.appendFileSync(file, JSON.stringify({ method: req.method, path: req.url, at: Date.now() }) + '\\n');
  const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (r) => {
    res.writeHead(r.statusCode || 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(srv.address().port + '\\n'));
`;

async function startCounter(target: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['-e', COUNTER, target, counterFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    proc.stdout!.once('data', (d) => resolve(String(d).trim()));
    proc.once('exit', (code) => reject(new Error(`counter exited ${code}`)));
  });
  counterUrl = `http://127.0.0.1:${port}`;
  return proc;
}

/** Every request the toolkit sent to Letta so far, oldest first. */
function lettaRequests(): { method: string; path: string; at: number }[] {
  let text = '';
  try {
    text = readFileSync(counterFile, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

beforeAll(async () => {
  const servicePort = await freePort();
  [server, host] = await Promise.all([
    LettaServer.start({ venv: inject('lettaVenv'), name: 'stockmode', memfsServiceUrl: `http://127.0.0.1:${servicePort}/${SECRET}` }),
    startGitHost({ user: 'git', token: TOKEN }),
  ]);
  counter = await startCounter(server.url);
  mkdirSync(server.memfsRoot, { recursive: true });
  service = await startServe({ memfsRoot: server.memfsRoot, port: servicePort, secret: SECRET, lettaUrl: counterUrl, args: ['--metrics-port', '0'] });
  api = new Rest(server.url);
}, 180_000);

afterAll(async () => {
  await service?.stop();
  counter?.kill('SIGTERM');
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** The toolkit's server-side settings, as an operator exports them; Letta is reached through the counter. */
function serverEnv(): NodeJS.ProcessEnv {
  return { LETTA_MEMFS_ROOT: server.memfsRoot, LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`, LETTA_BASE_URL: counterUrl, LETTA_MEMFS_GIT_TOKEN: TOKEN };
}

const repoMain = (agentId: string) => execFileSync('git', ['--git-dir', server.repoGitDir(agentId), 'rev-parse', 'main'], { encoding: 'utf8' }).trim();
const hostMain = (agentId: string) => host.git(`agents/${agentId}.git`, ['rev-parse', 'main']);

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, log = () => ''): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 500)}\n${log()}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** An agent set up for the server role (stock mode), its empty external repo seeded, and a client checkout. */
async function provisionAgent(name: string): Promise<{ agentId: string; client: Client; init: string }> {
  const agent = await api.createAgent(name);
  await host.createRepo(`agents/${agent.id}.git`);
  const init = (await cliOkAsync(['init', '--server', '--agent', agent.id], serverEnv())).stdout;
  // Seeding the empty external repo pushes main out: no push into Letta, no sync call.
  await cliOkAsync(['pull', '--agent', agent.id], serverEnv());
  expect(hostMain(agent.id)).toBe(repoMain(agent.id));
  const client = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token: TOKEN });
  scratch.push(client.home);
  client.init();
  return { agentId: agent.id, client, init };
}

const byLabel = (bs: Block[], label: string) => bs.find((b) => b.label === label);

/** serve's /metrics (its own listener, --metrics-port 0): every sample by name and labels. */
async function serveMetrics(): Promise<Map<string, number>> {
  const url = /metrics on (http:\/\/\S+\/metrics)/.exec(service.log)![1];
  return parseScrape(await (await fetch(url)).text());
}

let first: { agentId: string; client: Client; init: string };

describe(`letta ${version} unpatched, stock mode: set-up`, () => {
  it('init --server detects stock mode; doctor says it fits and that serve answers behind /v1/git/; status shows it', async () => {
    first = await provisionAgent('stock-setup');
    expect(first.init).toContain(`server mode stock (detected: Letta ${version} without the sync-from-git endpoint)`);
    const doctor = await runCliAsync(['doctor', '--server'], serverEnv());
    expect(doctor.stdout).toMatch(/^ok {3}server mode: stock: external commits are pushed through Letta's \/v1\/git\/ \(sync endpoint missing\)$/m);
    expect(doctor.stdout).toMatch(new RegExp(`^ok {3}serve behind Letta's /v1/git/: answers for agent-`, 'm'));
    const status = await runCliAsync(['status', '--server', '--json'], serverEnv());
    expect((JSON.parse(status.stdout) as { mode: string }[]).every((s) => s.mode === 'stock')).toBe(true);
  });
});

describe(`letta ${version} unpatched, stock mode: watch`, () => {
  let watch: CliProcess;
  beforeAll(async () => {
    watch = await CliProcess.start(['watch', '--no-listen', '--interval', '2'], serverEnv());
    await watch.waitFor(/watching /, 60_000);
  });
  afterAll(async () => {
    await watch?.stop();
  });

  it('round trip in: a client push to the host reaches the blocks through the proxy (value, description, metadata; a deleted file detaches its block); recompile only for system/', async () => {
    const { agentId, client } = first;
    const metricsBefore = await serveMetrics();
    client.write('system/human.md', blockFile({ description: 'Facts about Ada', metadata: { source: 'client' } }, 'Ada moved to Lisbon.'));
    client.write('reference/notes.md', blockFile({ description: 'Scratch notes' }, 'first note'));
    client.git('add', '-A');
    client.git('commit', '-q', '-m', 'human: Lisbon; notes');
    client.git('push', '-q', 'origin', 'main');
    const pushed = client.git('rev-parse', 'HEAD').trim();

    const blocks = await until('the pushed blocks', () => api.blocks(agentId), (bs) => byLabel(bs, 'system/human')?.value === 'Ada moved to Lisbon.' && Boolean(byLabel(bs, 'reference/notes')), () => watch.log);
    expect(byLabel(blocks, 'system/human')).toMatchObject({ description: 'Facts about Ada', metadata: { source: 'client' } });
    expect(byLabel(blocks, 'reference/notes')).toMatchObject({ value: 'first note', description: 'Scratch notes' });
    // main moved by a push through Letta: the service saw it (its after-push ran) and recompiled for system/.
    expect(repoMain(agentId)).toBe(pushed);
    await until('the recompile', () => service.log, (l) => new RegExp(`${agentId}: after push: recompiled`).test(l));
    expect(await api.systemPrompt(agentId)).toContain('Ada moved to Lisbon.');

    client.git('rm', '-q', 'reference/notes.md');
    client.git('commit', '-q', '-m', 'drop notes');
    client.git('push', '-q', 'origin', 'main');
    await until('the detach', () => api.blocks(agentId), (bs) => !byLabel(bs, 'reference/notes'), () => watch.log);
    await until('the after-push of the delete', () => service.log, (l) => new RegExp(`${agentId}: after push: no-system-change`).test(l));
    expect(service.log.match(new RegExp(`${agentId}: after push: recompiled`, 'g'))).toHaveLength(1);
    await until('the detach log line', () => server.log(), (l) => /Detached block reference\/notes/.test(l));
    // What Letta holds is recorded: nothing pending for status or sync --pending.
    await until('no pending sync', async () => JSON.parse((await runCliAsync(['status', '--server', '--json', '--agent', agentId], serverEnv())).stdout)[0].pending, (p) => p === undefined);
    expect((await runCliAsync(['sync', '--pending'], serverEnv())).stdout).toContain('0 agent(s) had a pending sync');

    // serve's counters moved by exactly the two pushes through Letta (info/refs and receive-pack each), one recompile
    // and its push-to-block latency. (Its mirrors are not counted here: this serve has no host token.)
    const keys = [
      'lmh_serve_requests_total{service="receive-pack",status="200"}',
      'lmh_recompiles_total{outcome="ok"}',
      'lmh_recompiles_total{outcome="failed"}',
      'lmh_push_to_block_seconds_count',
    ];
    const delta = (m: Map<string, number>) => Object.fromEntries(keys.map((k) => [k, (m.get(k) ?? 0) - (metricsBefore.get(k) ?? 0)]));
    const after = await serveMetrics();
    expect(delta(after)).toEqual({
      'lmh_serve_requests_total{service="receive-pack",status="200"}': 4,
      'lmh_recompiles_total{outcome="ok"}': 1,
      'lmh_recompiles_total{outcome="failed"}': 0,
      'lmh_push_to_block_seconds_count': 1,
    });
    const latency = (after.get('lmh_push_to_block_seconds_sum') ?? 0) - (metricsBefore.get('lmh_push_to_block_seconds_sum') ?? 0);
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(60);
    expect([...after.keys()].filter((k) => k.startsWith('lmh_serve_push_refusals_total'))).toEqual([]);
  });

  it('round trip out: a REST edit (read_only included) becomes a commit that watch pushes to the host and the client pulls', async () => {
    const { agentId, client } = first;
    const persona = byLabel(await api.blocks(agentId), 'system/persona')!;
    const before = repoMain(agentId);
    await api.ok('PATCH', `/v1/blocks/${persona.id}`, { value: 'I answer in haiku.', read_only: true });
    const serverHead = await until('the server commit', () => repoMain(agentId), (h) => h !== before);
    await until('watch pushing the server commit out', () => hostMain(agentId), (h) => h === repoMain(agentId), () => watch.log);
    expect(execFileSync('git', ['--git-dir', server.repoGitDir(agentId), 'merge-base', '--is-ancestor', serverHead, 'main']).length).toBe(0);
    client.git('pull', '-q', 'origin', 'main');
    expect(client.read('system/persona.md')).toMatch(/read_only: true/);
    expect(client.read('system/persona.md')).toMatch(/I answer in haiku\.$/);
  });

  it('idle: ticks and periodic pulls make 0 Letta calls', async () => {
    const { agentId } = first;
    await until('main and the host to agree', () => hostMain(agentId) === repoMain(agentId), Boolean);
    // Settle: the last pull and the service's delayed push checks are done.
    await new Promise((r) => setTimeout(r, 5000));
    const before = lettaRequests().length;
    const pulls = (watch.log.match(/\(periodic\)/g) ?? []).length;
    host.clearRequests();
    // Three polling intervals (2 s) plus slack: every tick and periodic pull runs, none may reach Letta.
    await new Promise((r) => setTimeout(r, 8000));
    expect(lettaRequests().slice(before)).toEqual([]);
    // Nor a fetch: each periodic pull only asks the host for its main (info/refs) and finds it unchanged.
    expect(host.requests.length).toBeGreaterThan(0);
    expect(host.requests.filter((q) => q.method === 'POST')).toEqual([]);
    // Idle periodic pulls log nothing (no step, no sync): the log did not grow with pull lines either.
    expect((watch.log.match(/\(periodic\)/g) ?? []).length).toBe(pulls);
  });
});

describe(`letta ${version} unpatched, stock mode: conflicts and refusals`, () => {
  it('a true conflict: the host version wins main and the blocks, the server edit is kept under the conflict ref, nothing lost', async () => {
    const { agentId, client } = await provisionAgent('stock-conflict');
    const human = byLabel(await api.blocks(agentId), 'system/human')!;
    const before = repoMain(agentId);
    await api.ok('PATCH', `/v1/blocks/${human.id}`, { value: 'Server says: Ada lives in Rome.' });
    const serverHead = await until('the server commit', () => repoMain(agentId), (h) => h !== before);
    client.write('system/human.md', blockFile({ description: 'What I know about the human' }, 'Client says: Ada lives in Oslo.'));
    client.git('commit', '-q', '-am', 'human: Oslo');
    client.git('push', '-q', 'origin', 'main');
    const clientHead = client.git('rev-parse', 'HEAD').trim();

    const r = await runCliAsync(['pull', '--agent', agentId, '--json'], serverEnv());
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(3);
    const out = JSON.parse(r.stdout)[0];
    expect(out.steps).toEqual(['conflict-merge', 'push']);
    expect(out.conflict.paths).toEqual(['system/human.md']);
    // The merge went in through Letta: main, the host and the block agree on the host's version.
    const main = repoMain(agentId);
    expect(hostMain(agentId)).toBe(main);
    for (const c of [serverHead, clientHead]) execFileSync('git', ['--git-dir', server.repoGitDir(agentId), 'merge-base', '--is-ancestor', c, main]);
    await until('the block', () => api.blockByLabel(agentId, 'system/human'), (b) => b?.value === 'Client says: Ada lives in Oslo.');
    const kept = execFileSync('git', ['--git-dir', server.repoGitDir(agentId), 'show', `${out.conflict.ref}:system/human.md`], { encoding: 'utf8' });
    expect(kept).toContain('Server says: Ada lives in Rome.');
    const status = await runCliAsync(['status', '--server', '--agent', agentId], serverEnv());
    expect(status.code).toBe(3);
    expect(status.stdout).toContain(`CONFLICT      ${out.conflict.ref} (system/human.md)`);
  });

  it('a host commit the service refuses (read_only changed) stops at the proxy: the pull names the refusal, Letta and main stay', async () => {
    const { agentId, client } = await provisionAgent('stock-refused');
    const before = repoMain(agentId);
    client.write('system/persona.md', blockFile({ description: 'Who I am', read_only: true }, 'I am a careful assistant.'));
    client.git('commit', '-q', '-am', 'persona: read only');
    // The client's pre-push refuses read_only changes; an operator can force it past. The service refuses it too.
    client.git('push', '-q', '--no-verify', 'origin', 'main');
    const r = await runCliAsync(['pull', '--agent', agentId], serverEnv());
    expect(r.code).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toMatch(/push through Letta's \/v1\/git\/ failed: letta-memfs-hooks: push refused: system\/persona\.md: read_only is set by the server and cannot be \w+ by a client/);
    expect(repoMain(agentId)).toBe(before);
    expect(byLabel(await api.blocks(agentId), 'system/persona')!.read_only).toBe(false);
  });

  it('the unpatched server never received a sync-from-git call (only init --server\'s probe of an agent no server has)', () => {
    const calls = lettaRequests().filter((q) => /sync-from-git/.test(q.path));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((q) => q.path.startsWith(`/v1/agents/${PROBE_AGENT}/memory/sync-from-git`))).toBe(true);
    // Pushes did go through Letta's proxy.
    expect(lettaRequests().some((q) => q.method === 'POST' && /\/v1\/git\/agent-[^/]+\/state\.git\/git-receive-pack$/.test(q.path))).toBe(true);
  });
});
