// The server patches on a real letta server (LETTA_VERSION), patched by our own patch-server command, next to
// the same version unpatched. Changes reach repo.git the way an operator's pull lands them (fetch into main).
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lettaVersion } from './helpers/env.js';
import { runCli } from './helpers/cli.js';
import { blockFile, commitToServerRepo, git, lsTree } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { LettaServer } from './helpers/server.js';

const version = lettaVersion();
let patched: LettaServer;
let unpatched: LettaServer;
let api: Rest;

beforeAll(async () => {
  const venv = inject('lettaVenv');
  [patched, unpatched] = await Promise.all([
    LettaServer.start({ venv, patchedDir: inject('lettaPatched'), name: 'patched' }),
    LettaServer.start({ venv, name: 'unpatched' }),
  ]);
  api = new Rest(patched.url);
});

afterAll(async () => {
  await Promise.all([patched?.stop(), unpatched?.stop()]);
});

describe(`letta ${version}: unpatched server`, () => {
  it('answers 404 on the sync endpoint', async () => {
    const plain = new Rest(unpatched.url);
    const agent = await plain.createAgent('unpatched');
    const r = await plain.sync(agent.id);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ detail: 'Not Found' }); // the router's own 404: no such route
  });

  it('doctor says the sync-from-git patch is missing; on the patched server the endpoint check passes', async () => {
    type Check = { name: string; ok: boolean; detail: string; fix?: string };
    const doctor = (srv: LettaServer) =>
      runCli(['doctor', '--json'], { LETTA_BASE_URL: srv.url, LETTA_MEMFS_ROOT: srv.memfsRoot, LETTA_MEMFS_GIT_URL: 'http://127.0.0.1:9/{agentId}.git' });
    const endpointCheck = (r: { stdout: string; stderr: string }) => {
      let checks: Check[];
      try {
        checks = JSON.parse(r.stdout) as Check[];
      } catch {
        throw new Error(`doctor printed no JSON: ${r.stdout}${r.stderr}`);
      }
      return checks.find((c) => c.name === 'sync endpoint');
    };

    await new Rest(unpatched.url).createAgent('doctor'); // doctor wants <memfs>/repository, which the first git agent creates
    const r = doctor(unpatched);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(1);
    expect(endpointCheck(r)).toMatchObject({ ok: false, detail: 'missing (HTTP 404 Not Found); stock mode is what fits this server' });
    expect(endpointCheck(r)!.fix).toMatch(/apply the server patch \(.+ patch-server --apply/);

    await api.createAgent('doctor'); // doctor wants <memfs>/repository, which the first git agent creates
    const p = doctor(patched);
    expect(endpointCheck(p), `${p.stdout}${p.stderr}`).toMatchObject({ ok: true });
  });
});

describe(`letta ${version}: POST /v1/agents/{id}/memory/sync-from-git`, () => {
  it('creates the agent repo with system/ blocks (the fixture works)', async () => {
    const agent = await api.createAgent('fixture');
    expect(agent.tags).toContain('git-memory-enabled');
    expect(lsTree(patched.repoGitDir(agent.id)).sort()).toEqual(['system/human.md', 'system/persona.md']);
    expect((await api.blocks(agent.id)).map((b) => b.label).sort()).toEqual(['system/human', 'system/persona']);
  });

  it('syncs value, description, limit, read_only and metadata from HEAD', async () => {
    const agent = await api.createAgent('fields');
    commitToServerRepo(patched.repoGitDir(agent.id), {
      'system/human.md': blockFile({ description: 'Facts about Ada', read_only: true, limit: 4321, metadata: { source: 'e2e', owner: 'ops' } }, 'Ada likes tea.\nShe lives in Turin.'),
    });
    const r = await api.sync(agent.id);
    expect(r.status, r.text).toBe(200);
    const human = (await api.blockByLabel(agent.id, 'system/human'))!;
    expect(human).toMatchObject({
      value: 'Ada likes tea.\nShe lives in Turin.',
      description: 'Facts about Ada',
      limit: 4321,
      read_only: true,
      metadata: { source: 'e2e', owner: 'ops' },
    });
    // The response carries the synced blocks with the same fields.
    const synced = (r.json.synced_blocks as { label: string }[]).find((b) => b.label === 'system/human');
    expect(synced).toMatchObject({ value: human.value, description: human.description, limit: 4321, read_only: true, metadata: human.metadata });
    expect(r.json.detached_blocks).toEqual([]);
    expect(r.json.recompiled).toBe(false);
    expect(r.json.updated_labels).toEqual(['system/human']); // persona.md did not change: no write
    // The same HEAD again: every block is reported, none is written.
    const again = await api.sync(agent.id);
    expect(again.status, again.text).toBe(200);
    expect(again.json.updated_labels).toEqual([]);
    expect((again.json.synced_blocks as unknown[]).length).toBe(2);
  });

  it('creates a block for a new file and detaches the block whose file was deleted', async () => {
    const agent = await api.createAgent('detach');
    const before = await api.blocks(agent.id);
    const persona = before.find((b) => b.label === 'system/persona')!;
    commitToServerRepo(patched.repoGitDir(agent.id), {
      'system/persona.md': null,
      'notes/project.md': blockFile({ description: 'Project notes' }, 'Ship it.'),
    });
    const r = await api.sync(agent.id);
    expect(r.status, r.text).toBe(200);
    expect(r.json.detached_blocks).toEqual([{ id: persona.id, label: 'system/persona' }]);
    const labels = (await api.blocks(agent.id)).map((b) => b.label).sort();
    expect(labels).toEqual(['notes/project', 'system/human']);
    // Detached, not deleted: the block still exists on the server.
    expect((await api.call('GET', `/v1/blocks/${persona.id}`)).status).toBe(200);
  });

  it('leaves every block in place when the agent repo directory is gone (409)', async () => {
    const agent = await api.createAgent('guard-missing');
    const before = await api.blocks(agent.id);
    const agentDir = patched.repoGitDir(agent.id).replace(/\/repo\.git$/, '');
    renameSync(agentDir, `${agentDir}.moved`);
    try {
      expect(existsSync(agentDir)).toBe(false);
      const r = await api.sync(agent.id);
      expect(r.status).toBe(409);
      expect(r.json.detail).toMatch(/no git memory repo.*no block was changed/);
      const after = await api.blocks(agent.id);
      expect(after.map((b) => [b.id, b.label, b.value]).sort()).toEqual(before.map((b) => [b.id, b.label, b.value]).sort());
    } finally {
      renameSync(`${agentDir}.moved`, agentDir);
    }
  });

  it('leaves every block in place when HEAD has no block file (409)', async () => {
    const agent = await api.createAgent('guard-empty');
    const before = await api.blocks(agent.id);
    commitToServerRepo(patched.repoGitDir(agent.id), { 'system/human.md': null, 'system/persona.md': null, 'README.txt': 'not a block\n' });
    const r = await api.sync(agent.id);
    expect(r.status).toBe(409);
    expect(r.json.detail).toMatch(/no block \(\*\.md\) file.*no block was changed/);
    expect((await api.blocks(agent.id)).map((b) => b.id).sort()).toEqual(before.map((b) => b.id).sort());
  });

  it('leaves every block in place when the repo cannot be read (503 after retries)', async () => {
    const agent = await api.createAgent('guard-unreadable');
    const before = await api.blocks(agent.id);
    const ref = join(patched.repoGitDir(agent.id), 'refs', 'heads', 'main');
    const good = readFileSync(ref, 'utf8');
    writeFileSync(ref, `${'0123456789abcdef'.repeat(2)}01234567\n`); // main -> an object that does not exist
    try {
      const r = await api.sync(agent.id);
      expect(r.status).toBe(503);
      expect(r.json.detail).toMatch(/could not read the git memory repo.*no block was changed/);
      const after = await api.blocks(agent.id);
      expect(after.map((b) => [b.id, b.label, b.value]).sort()).toEqual(before.map((b) => [b.id, b.label, b.value]).sort());
    } finally {
      writeFileSync(ref, good);
    }
    expect((await api.sync(agent.id)).status).toBe(200);
  });

  it('keeps the block of a file whose content cannot be read (missing object) instead of detaching it', async () => {
    const agent = await api.createAgent('guard-missing-object');
    const repo = patched.repoGitDir(agent.id);
    const persona = (await api.blockByLabel(agent.id, 'system/persona'))!;
    commitToServerRepo(repo, {
      'system/persona.md': blockFile({ description: 'Who I am' }, `unreadable ${Date.now()}`),
      'system/human.md': blockFile({ description: 'What I know about the human' }, 'Ada is back.'),
    });
    const blob = git(['--git-dir', repo, 'rev-parse', 'main:system/persona.md']).trim();
    const loose = join(repo, 'objects', blob.slice(0, 2), blob.slice(2));
    expect(existsSync(loose), 'the fetched blob is a loose object').toBe(true);
    unlinkSync(loose);
    const r = await api.sync(agent.id);
    expect(r.status, r.text).toBe(200);
    expect(r.json.skipped_files).toEqual(['system/persona.md']);
    expect(r.json.detached_blocks).toEqual([]);
    expect((await api.blockByLabel(agent.id, 'system/persona'))!.value).toBe(persona.value);
    expect((await api.blockByLabel(agent.id, 'system/human'))!.value).toBe('Ada is back.');
    expect(patched.log()).toMatch(/Skipping unreadable file system\/persona\.md/);
  });

  it('skips a binary (non-UTF-8) file with a warning and syncs the rest', async () => {
    const agent = await api.createAgent('binary');
    const persona = (await api.blockByLabel(agent.id, 'system/persona'))!;
    commitToServerRepo(patched.repoGitDir(agent.id), {
      'assets/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00, 0x81]),
      'system/persona.md': Buffer.from([0xff, 0xfe, 0x41, 0x00, 0x81]), // a block file that is not UTF-8
      'system/human.md': blockFile({ description: 'What I know about the human' }, 'Ada now prefers coffee.'),
    });
    const r = await api.sync(agent.id);
    expect(r.status, r.text).toBe(200);
    expect(r.json.skipped_files).toEqual(['assets/logo.png', 'system/persona.md']);
    expect((await api.blockByLabel(agent.id, 'system/human'))!.value).toBe('Ada now prefers coffee.');
    // The undecodable block file's block is neither changed nor detached.
    expect(r.json.detached_blocks).toEqual([]);
    expect((await api.blockByLabel(agent.id, 'system/persona'))!.value).toBe(persona.value);
    expect(patched.log()).toMatch(/Skipping non-UTF-8 file assets\/logo\.png/);
  });

  it('rebuilds the system prompt only when recompile=true', async () => {
    const agent = await api.createAgent('recompile');
    const repo = patched.repoGitDir(agent.id);
    commitToServerRepo(repo, { 'system/human.md': blockFile({ description: 'x' }, 'MARKER-ONE') });
    const r1 = await api.sync(agent.id);
    expect(r1.status, r1.text).toBe(200);
    expect(r1.json.recompiled).toBe(false);
    expect(await api.systemPrompt(agent.id)).not.toContain('MARKER-ONE');

    commitToServerRepo(repo, { 'system/human.md': blockFile({ description: 'x' }, 'MARKER-TWO') });
    const r2 = await api.sync(agent.id, true);
    expect(r2.status, r2.text).toBe(200);
    expect(r2.json.recompiled).toBe(true);
    expect(await api.systemPrompt(agent.id)).toContain('MARKER-TWO');
  });

  it('answers 404 for an unknown agent and 409 for an agent without git memory', async () => {
    const unknown = await api.sync('agent-00000000-0000-4000-8000-00000000abcd');
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toMatch(/agent-00000000-0000-4000-8000-00000000abcd/);

    const plain = await api.createAgent('no-git', { gitMemory: false });
    const r = await api.sync(plain.id);
    expect(r.status).toBe(409);
    expect(r.json.detail).toMatch(/git memory is not enabled.*git-memory-enabled/);
  });

  it('detaching a shared block on one agent keeps it for the other agent', async () => {
    const a = await api.createAgent('shared-a');
    const b = await api.createAgent('shared-b', { gitMemory: false });
    const shared = await api.ok('POST', '/v1/blocks/', { label: 'system/team', value: 'Team rules', description: 'Shared rules' });
    await api.ok('PATCH', `/v1/agents/${a.id}/core-memory/blocks/attach/${shared.id}`);
    await api.ok('PATCH', `/v1/agents/${b.id}/core-memory/blocks/attach/${shared.id}`);
    const repo = patched.repoGitDir(a.id);
    commitToServerRepo(repo, { 'system/team.md': blockFile({ description: 'Shared rules' }, 'Team rules v2') });
    const r1 = await api.sync(a.id);
    expect(r1.status, r1.text).toBe(200);
    expect((await api.blockByLabel(b.id, 'system/team'))!.value).toBe('Team rules v2'); // same block, both agents

    commitToServerRepo(repo, { 'system/team.md': null });
    const r2 = await api.sync(a.id);
    expect(r2.status, r2.text).toBe(200);
    expect(r2.json.detached_blocks).toEqual([{ id: shared.id, label: 'system/team' }]);
    expect(await api.blockByLabel(a.id, 'system/team')).toBeUndefined();
    expect((await api.blockByLabel(b.id, 'system/team'))!.id).toBe(shared.id);
  });

  it('deleting a block shared by two git agents commits the deletion in both repos', async () => {
    const a = await api.createAgent('del-a');
    const c = await api.createAgent('del-c');
    const shared = await api.ok('POST', '/v1/blocks/', { label: 'system/common', value: 'Common', description: 'Common block' });
    for (const agent of [a, c]) {
      await api.ok('PATCH', `/v1/agents/${agent.id}/core-memory/blocks/attach/${shared.id}`);
      commitToServerRepo(patched.repoGitDir(agent.id), { 'system/common.md': blockFile({ description: 'Common block' }, 'Common') });
    }
    await api.ok('DELETE', `/v1/blocks/${shared.id}`);
    for (const agent of [a, c]) {
      expect(lsTree(patched.repoGitDir(agent.id))).not.toContain('system/common.md');
      expect(await api.blockByLabel(agent.id, 'system/common')).toBeUndefined();
    }
    expect((await api.call('GET', `/v1/blocks/${shared.id}`)).status).toBe(404);
  });
});
