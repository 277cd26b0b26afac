// `restore` on a real Letta 0.16.8, both modes: agents reach the external host, then the memfs volume (the
// repository dir) is deleted under the running server, the host moves on, and `restore` brings every repo.git back
// and Letta's blocks to the host's main (patched: sync-from-git; stock: a push through Letta's /v1/git/ to `serve`,
// after which Letta's own post-push sync runs). Afterwards Letta's own REST edits become commits that reach the host,
// and pushes reach Letta again. One Letta per mode, two agents each (CI time). Partial cases (one repo missing, one
// failing git fsck, a host behind the server): test/server/restore.test.ts.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { type CliProcess, cliOkAsync } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { type Block, Rest } from './helpers/rest.js';
import { startServe } from './helpers/serve.js';
import { freePort, LettaServer } from './helpers/server.js';

const version = lettaVersion();
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const scratch: string[] = [];

afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, log = () => ''): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 800)}\n${log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A commit on the host made elsewhere (another machine's push): clone, write, commit, push. */
function commitOnHost(repo: string, file: string, content: string): string {
  const work = mkdtempSync(join(tmpdir(), 'letta-e2e-elsewhere-'));
  scratch.push(work);
  git(['clone', '-q', repo, work]);
  mkdirSync(join(work, file, '..'), { recursive: true });
  writeFileSync(join(work, file), content);
  git(['add', file], work);
  git(['commit', '-q', '-m', `edit ${file} elsewhere`], work);
  git(['push', '-q', 'origin', 'main'], work);
  return git(['rev-parse', 'HEAD'], work).trim();
}

/** Pure: a block file's value as Letta reads it (block_markdown.py @ 0.16.8: `---\n<yaml>\n---\n<value>`). */
function valueOf(text: string): string {
  const m = /^---\n[\s\S]*?\n---\n/.exec(text);
  return m ? text.slice(m[0].length) : text;
}

/** Every block of the agent equals its file in main, and every file has its block. */
async function expectBlocksMatchMain(api: Rest, gitDir: string, agentId: string, log: () => string): Promise<void> {
  const files = git(['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', 'main']).split('\n').filter((p) => p.endsWith('.md'));
  const want = Object.fromEntries(files.map((p) => [p.slice(0, -3), valueOf(git(['--git-dir', gitDir, 'show', `main:${p}`]))]));
  const got = (bs: Block[]) => Object.fromEntries(bs.map((b) => [b.label, b.value]));
  const blocks = await until(`blocks of ${agentId} equal to main's files`, () => api.blocks(agentId), (bs) => JSON.stringify(got(bs), Object.keys(want).sort()) === JSON.stringify(want, Object.keys(want).sort()) && bs.length === files.length, log);
  expect(got(blocks)).toEqual(want);
}

interface World {
  server: LettaServer;
  host: GitHost;
  api: Rest;
  env: NodeJS.ProcessEnv;
  serve?: CliProcess;
}

/** Two agents with git memory that reached the host, then the host moved on and the repository dir was deleted. */
async function loseTheVolume(w: World, mode: 'patched' | 'stock'): Promise<{ ids: string[]; hostHeads: string[] }> {
  const ids: string[] = [];
  for (const n of [1, 2]) {
    const a = await w.api.createAgent(`restore-${mode}-${n}`);
    await w.host.createRepo(`agents/${a.id}.git`);
    ids.push(a.id);
  }
  await w.api.createAgent(`restore-${mode}-plain`, { gitMemory: false });
  await cliOkAsync(['init', '--server', '--mode', mode], w.env);
  await cliOkAsync(['pull', '--all'], w.env);
  const hostHeads = ids.map((id, i) =>
    commitOnHost(w.host.repoPath(`agents/${id}.git`), 'system/human.md', blockFile({ description: 'What I know about the human' }, `Ada, as the host keeps her (${i}).`)),
  );
  rmSync(join(w.server.memfsRoot, 'repository'), { recursive: true, force: true });
  return { ids, hostHeads };
}

/** After restore: main is the host's, blocks match; a REST edit becomes a commit that pull pushes to the host. */
async function expectRestored(w: World, ids: string[], hostHeads: string[], out: string): Promise<void> {
  for (const [i, id] of ids.entries()) {
    expect(out).toMatch(new RegExp(`^${id}: cloned from the host`, 'm'));
    const gitDir = w.server.repoGitDir(id);
    expect(git(['--git-dir', gitDir, 'rev-parse', 'main']).trim()).toBe(hostHeads[i]);
    expect(git(['--git-dir', gitDir, 'config', 'core.bare']).trim()).toBe('false');
    await expectBlocksMatchMain(w.api, gitDir, id, () => w.server.log() + (w.serve?.log ?? ''));
  }
  expect(out).toContain(`2 agent(s), 2 cloned from the host, 0 failed`);
  // Letta's own REST edit works on the restored repo (a server commit) and the next pull pushes it to the host.
  const id = ids[0];
  const gitDir = w.server.repoGitDir(id);
  const persona = (await w.api.blocks(id)).find((b) => b.label === 'system/persona')!;
  const before = git(['--git-dir', gitDir, 'rev-parse', 'main']).trim();
  await w.api.ok('PATCH', `/v1/blocks/${persona.id}`, { value: 'I was restored from the host.' });
  const serverHead = await until('the server commit', () => git(['--git-dir', gitDir, 'rev-parse', 'main']).trim(), (h) => h !== before, () => w.server.log());
  expect(git(['--git-dir', gitDir, 'log', '-1', '--format=%s', 'main']).trim()).toBe('Update system/persona block');
  await cliOkAsync(['pull', '--agent', id], w.env);
  expect(w.host.git(`agents/${id}.git`, ['rev-parse', 'main'])).toBe(serverHead);
  expect(w.host.git(`agents/${id}.git`, ['show', 'main:system/persona.md'])).toMatch(/I was restored from the host\.$/);
  // And a push to the host reaches Letta again.
  commitOnHost(w.host.repoPath(`agents/${id}.git`), 'system/human.md', blockFile({ description: 'What I know about the human' }, 'Ada, after the restore.'));
  await cliOkAsync(['pull', '--agent', id], w.env);
  await until('the pushed block', () => w.api.blocks(id), (bs) => bs.find((b) => b.label === 'system/human')?.value === 'Ada, after the restore.', () => w.server.log());
}

describe(`letta ${version} patched: restore after losing the memfs volume`, () => {
  const w = {} as World;
  beforeAll(async () => {
    [w.server, w.host] = await Promise.all([
      LettaServer.start({ venv: inject('lettaVenv'), patchedDir: inject('lettaPatched'), name: 'restore-patched' }),
      startGitHost({ user: 'git', token: TOKEN }),
    ]);
    w.api = new Rest(w.server.url);
    w.env = { LETTA_MEMFS_ROOT: w.server.memfsRoot, LETTA_MEMFS_GIT_URL: `${w.host.url}/agents/{agentId}.git`, LETTA_BASE_URL: w.server.url, LETTA_MEMFS_GIT_TOKEN: TOKEN };
  }, 180_000);
  afterAll(async () => {
    await Promise.all([w.server?.stop(), w.host?.close()]);
  });

  it('--dry-run changes nothing; restore clones every listed agent, sync-from-git brings the blocks; REST edits and pushes work after', async () => {
    const { ids, hostHeads } = await loseTheVolume(w, 'patched');
    const dry = await cliOkAsync(['restore', '--dry-run'], w.env);
    for (const id of ids) expect(dry.stdout).toContain(`${id}: would clone the host's main`);
    expect(dry.stdout).toContain('(2 agent(s), patched mode)');
    expect(() => git(['--git-dir', w.server.repoGitDir(ids[0]), 'rev-parse', 'main'])).toThrow();
    const r = await cliOkAsync(['restore'], w.env);
    for (const id of ids) expect(r.stdout).toContain(`${id}: cloned from the host; synced (recompile)`);
    await expectRestored(w, ids, hostHeads, r.stdout);
  });
});

describe(`letta ${version} unpatched, stock mode: restore after losing the memfs volume`, () => {
  const w = {} as World;
  const SECRET = randomBytes(24).toString('hex');
  beforeAll(async () => {
    const port = await freePort();
    [w.server, w.host] = await Promise.all([
      LettaServer.start({ venv: inject('lettaVenv'), name: 'restore-stock', memfsServiceUrl: `http://127.0.0.1:${port}/${SECRET}` }),
      startGitHost({ user: 'git', token: TOKEN }),
    ]);
    mkdirSync(w.server.memfsRoot, { recursive: true });
    w.serve = await startServe({ memfsRoot: w.server.memfsRoot, port, secret: SECRET, lettaUrl: w.server.url });
    w.api = new Rest(w.server.url);
    w.env = { LETTA_MEMFS_ROOT: w.server.memfsRoot, LETTA_MEMFS_GIT_URL: `${w.host.url}/agents/{agentId}.git`, LETTA_BASE_URL: w.server.url, LETTA_MEMFS_GIT_TOKEN: TOKEN };
  }, 180_000);
  afterAll(async () => {
    await w.serve?.stop();
    await Promise.all([w.server?.stop(), w.host?.close()]);
  });

  it("restore creates main by a push through Letta's /v1/git/ (Letta syncs the blocks); REST edits and pushes through Letta work after", async () => {
    const { ids, hostHeads } = await loseTheVolume(w, 'stock');
    const r = await cliOkAsync(['restore'], w.env);
    for (const id of ids) expect(r.stdout).toContain(`${id}: cloned from the host; main created by a push through Letta's /v1/git/ (Letta syncs the blocks)\n`);
    await expectRestored(w, ids, hostHeads, r.stdout);
    // A push straight through Letta's /v1/git/ (as Letta Code does) lands on the restored repo and syncs.
    const id = ids[1];
    const work = mkdtempSync(join(tmpdir(), 'letta-e2e-direct-'));
    scratch.push(work);
    git(['clone', '-q', `${w.server.url}/v1/git/${id}/state.git`, work]);
    writeFileSync(join(work, 'system/persona.md'), blockFile({ description: 'Who I am' }, 'Pushed through Letta after the restore.'));
    git(['commit', '-q', '-am', 'persona through Letta'], work);
    git(['push', '-q', 'origin', 'main'], work);
    await until('the block pushed through Letta', () => w.api.blocks(id), (bs) => bs.find((b) => b.label === 'system/persona')?.value === 'Pushed through Letta after the restore.', () => w.server.log() + w.serve!.log);
    expect(git(['--git-dir', w.server.repoGitDir(id), 'rev-parse', 'main']).trim()).toBe(git(['rev-parse', 'HEAD'], work).trim());
  });
});
