// Stock mode: an UNPATCHED letta server with LETTA_MEMFS_SERVICE_URL=http://127.0.0.1:<port>/<secret> pointing at
// our `serve`. git talks to Letta's own /v1/git/<agent>/state.git (the proxy in
// letta/server/rest_api/routers/v1/git_http.py), which forwards to the service and runs its own block sync after
// each receive-pack. Clients use Letta Code's argv: -c http.extraHeader=Authorization: Basic base64(letta:<key>).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lettaVersion } from './helpers/env.js';
import type { CliProcess } from './helpers/cli.js';
import { startServe } from './helpers/serve.js';
import { blockFile, git } from './helpers/repo.js';
import { Rest, type Block } from './helpers/rest.js';
import { DEFAULT_ORG, freePort, LettaServer } from './helpers/server.js';

const version = lettaVersion();
const SECRET = randomBytes(24).toString('hex');
const KEY = 'sk-let-e2e-not-a-real-key';
const BASIC = `Authorization: Basic ${Buffer.from(`letta:${KEY}`).toString('base64')}`;
let server: LettaServer;
let service: CliProcess;
let servicePort = 0;
let api: Rest;
const scratch: string[] = [];

beforeAll(async () => {
  servicePort = await freePort();
  server = await LettaServer.start({ venv: inject('lettaVenv'), name: 'stock', memfsServiceUrl: `http://127.0.0.1:${servicePort}/${SECRET}` });
  mkdirSync(server.memfsRoot, { recursive: true });
  service = await startServe({ memfsRoot: server.memfsRoot, port: servicePort, secret: SECRET, lettaUrl: server.url });
  api = new Rest(server.url);
}, 180_000);

afterAll(async () => {
  await service?.stop();
  await server?.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** git as Letta Code runs it (letta-code src/agent/memoryGit.ts: extraHeader Basic, no helper, no prompt). */
function lc(args: string[], cwd?: string): { code: number; out: string; err: string } {
  try {
    const out = git(['-c', `http.extraHeader=${BASIC}`, '-c', 'credential.helper=', '-c', 'core.askPass=', ...args], cwd);
    return { code: 0, out, err: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status ?? 1, out: String(err.stdout ?? ''), err: String(err.stderr ?? '') };
  }
}

async function cloneAgent(name: string): Promise<{ agentId: string; dir: string }> {
  const agent = await api.createAgent(name);
  const dir = mkdtempSync(join(tmpdir(), 'letta-e2e-stock-'));
  scratch.push(dir);
  const r = lc(['clone', '-q', `${server.url}/v1/git/${agent.id}/state.git`, join(dir, 'memory')]);
  expect(r.code, r.err).toBe(0);
  return { agentId: agent.id, dir: join(dir, 'memory') };
}

function write(dir: string, file: string, content: string | Buffer): void {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), content);
}

/** Polls until the predicate holds over the agent's blocks: the stock sync runs after the push response. */
async function blocksUntil(agentId: string, ok: (blocks: Block[]) => boolean): Promise<Block[]> {
  let blocks: Block[] = [];
  for (let i = 0; i < 100; i++) {
    blocks = await api.blocks(agentId);
    if (ok(blocks)) return blocks;
    await new Promise((r) => setTimeout(r, 100));
  }
  return blocks;
}

function raw(path: string, headers: Record<string, string> = {}, port = server.port): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe(`letta ${version} unpatched + serve: round trip in through /v1/git/`, () => {
  it('a push updates value, description and metadata; a new file attaches a block, deleting it detaches it', async () => {
    const { agentId, dir } = await cloneAgent('stock-rt');
    expect(readFileSync(join(dir, 'system/human.md'), 'utf8')).toContain('The human is called Ada.');
    write(dir, 'system/human.md', blockFile({ description: 'Facts about Ada', metadata: { source: 'stock' } }, 'Ada moved to Lisbon.'));
    write(dir, 'reference/notes.md', blockFile({ description: 'Scratch notes' }, 'first note'));
    git(['add', '-A'], dir);
    git(['commit', '-q', '-m', 'human: Lisbon; notes'], dir);
    const push = lc(['push', 'origin', 'main'], dir);
    expect(push.code, push.err).toBe(0);
    expect(git(['--git-dir', server.repoGitDir(agentId), 'rev-parse', 'main']).trim()).toBe(git(['rev-parse', 'HEAD'], dir).trim());

    const blocks = await blocksUntil(agentId, (bs) => bs.some((b) => b.label === 'reference/notes') && bs.some((b) => b.value === 'Ada moved to Lisbon.'));
    expect(blocks.find((b) => b.label === 'system/human')).toMatchObject({ value: 'Ada moved to Lisbon.', description: 'Facts about Ada', metadata: { source: 'stock' } });
    expect(blocks.find((b) => b.label === 'reference/notes')).toMatchObject({ value: 'first note', description: 'Scratch notes' });

    git(['rm', '-q', 'reference/notes.md'], dir);
    git(['commit', '-q', '-m', 'drop notes'], dir);
    const del = lc(['push', 'origin', 'main'], dir);
    expect(del.code, del.err).toBe(0);
    const after = await blocksUntil(agentId, (bs) => !bs.some((b) => b.label === 'reference/notes'));
    expect(after.map((b) => b.label)).not.toContain('reference/notes');
    // The log line is written by the same background task, flushed a little later than the detach itself.
    for (let i = 0; i < 100 && !/Detached block reference\/notes/.test(server.log()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(server.log()).toMatch(/Detached block reference\/notes/);
  });

  it('read_only set by the server reaches the client and stays: a client edit of it is refused', async () => {
    const { agentId, dir } = await cloneAgent('stock-ro');
    const human = (await api.blockByLabel(agentId, 'system/human'))!;
    await api.ok('PATCH', `/v1/blocks/${human.id}`, { read_only: true });
    const pulled = lc(['pull', '-q', '--ff-only', 'origin', 'main'], dir);
    expect(pulled.code, pulled.err).toBe(0);
    expect(readFileSync(join(dir, 'system/human.md'), 'utf8')).toMatch(/read_only: true/);
    write(dir, 'system/human.md', readFileSync(join(dir, 'system/human.md'), 'utf8') + '\nmore');
    git(['commit', '-q', '-am', 'edit read-only'], dir);
    const r = lc(['push', 'origin', 'main'], dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: system\/human\.md: is read_only on the server/);
    expect((await api.blockByLabel(agentId, 'system/human'))!.read_only).toBe(true);
  });

  it('a binary file push is refused with a message git shows; the sync keeps working', async () => {
    const { agentId, dir } = await cloneAgent('stock-bin');
    write(dir, 'notes/image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 1]));
    git(['add', '-A'], dir);
    git(['commit', '-q', '-m', 'binary'], dir);
    const r = lc(['push', 'origin', 'main'], dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/remote: letta-memfs-hooks: push refused: notes\/image\.png: is a binary file/);
    expect(r.err).toMatch(/\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    git(['reset', '-q', '--hard', 'HEAD~1'], dir);
    write(dir, 'system/human.md', blockFile({ description: 'What I know about the human' }, 'Still Ada.'));
    git(['commit', '-q', '-am', 'text only'], dir);
    const ok = lc(['push', 'origin', 'main'], dir);
    expect(ok.code, ok.err).toBe(0);
    const blocks = await blocksUntil(agentId, (bs) => bs.some((b) => b.value === 'Still Ada.'));
    expect(blocks.find((b) => b.label === 'system/human')?.value).toBe('Still Ada.');
  });
});

async function logUntil(pattern: RegExp): Promise<void> {
  for (let i = 0; i < 150 && !pattern.test(service.log); i++) await new Promise((r) => setTimeout(r, 100));
  expect(service.log).toMatch(pattern);
}

describe(`letta ${version} unpatched + serve: after a push`, () => {
  it('recompiles the prompt only when system/ changed, after the stock sync landed the values', async () => {
    const { agentId, dir } = await cloneAgent('stock-recompile');
    write(dir, 'reference/places.md', blockFile({ description: 'Places' }, 'Porto'));
    git(['add', '-A'], dir);
    git(['commit', '-q', '-m', 'reference only'], dir);
    expect(lc(['push', 'origin', 'main'], dir).code).toBe(0);
    await logUntil(new RegExp(`${agentId}: after push: no-system-change`));
    expect(service.log).not.toMatch(new RegExp(`${agentId}: after push: recompiled`));

    write(dir, 'system/human.md', blockFile({ description: 'What I know about the human' }, 'Ada lives in Porto now.'));
    git(['commit', '-q', '-am', 'system change'], dir);
    expect(lc(['push', 'origin', 'main'], dir).code).toBe(0);
    await logUntil(new RegExp(`${agentId}: after push: recompiled`));
    expect(await api.systemPrompt(agentId)).toContain('Ada lives in Porto now.');
  });
});

describe(`letta ${version} unpatched + serve: refusals`, () => {
  it('no prefix, a wrong prefix, a forged org and traversal are refused; the Letta key is never logged', async () => {
    const agent = await api.createAgent('stock-refuse');
    const info = `/git/${agent.id}/state.git/info/refs?service=git-upload-pack`;
    const org = { 'X-Organization-Id': DEFAULT_ORG };
    // Straight at the service, around Letta: without the secret nothing answers.
    expect(await raw(info, org, servicePort)).toBe(404);
    expect(await raw(`/not-the-secret-not-the-secret${info}`, org, servicePort)).toBe(404);
    expect(await raw(`/${SECRET}${info}`, { 'X-Organization-Id': 'org-11111111-1111-4111-8111-111111111111' }, servicePort)).toBe(404);
    expect(await raw(`/${SECRET}${info}`, org, servicePort)).toBe(200);
    // Through the proxy a forged org header is overwritten with the actor's org (the push still works)...
    expect(await raw(`/v1${info}`, { 'X-Organization-Id': 'org-11111111-1111-4111-8111-111111111111' })).toBe(200);
    // ...and paths the proxy does not treat as an agent repo (so it keeps the client's header) reach nothing.
    for (const p of [
      `/v1/git/${agent.id}/info/refs?service=git-upload-pack`,
      `/v1/git/..%2f..%2f${agent.id}/state.git/info/refs?service=git-upload-pack`,
      `/v1/git/${agent.id}/state.git/%2e%2e/%2e%2e/config`,
      `/v1/git/${agent.id}/state.git/HEAD`,
    ]) {
      expect(await raw(p, org), p).not.toBe(200);
    }
    expect(service.log).not.toContain(SECRET);
    expect(service.log).not.toContain(Buffer.from(`letta:${KEY}`).toString('base64'));
  });
});
