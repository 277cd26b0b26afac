import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setupServer } from '../../src/server/setup/init-server.js';
import { pullAgent } from '../../src/server/repo/pull.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { beginServerEdit, serverEdit } from '../fixtures/server-repo.js';
import { clientPush, type Harness, makeHarness, rev } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ password: 'pw-secret-1', config: { lettaUserId: 'user-11111111-1111-4111-8111-111111111111' } });
});
afterEach(async () => h.cleanup());

describe('pull', () => {
  it('seeds an empty external repo, then a client push gives exactly one sync with recompile=true', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    const seeded = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(seeded.steps).toEqual(['seed']);
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(await rev(a.gitDir, 'main'));
    expect(h.letta.calls).toHaveLength(0);

    const pushed = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', 'Name: Grace\n');
    const out = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out.steps).toEqual(['fast-forward']);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
    expect(h.letta.calls).toHaveLength(1);
    expect(h.letta.calls[0]).toMatchObject({
      agentId: a.agentId,
      recompile: true,
      head: pushed,
      authorization: 'Bearer pw-secret-1',
      userId: 'user-11111111-1111-4111-8111-111111111111',
    });
    expect((await readSyncState(a.gitDir)).lastSynced).toBe(pushed);

    // Idle: nothing moves, nothing is called.
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(h.letta.calls).toHaveLength(1);
  });

  it('a change outside system/ syncs with recompile=false', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/todo.md', 'buy milk\n');
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(h.letta.calls.map((c) => c.recompile)).toEqual([false]);
  });

  it('server edits the remote lacks are merged and pushed; server-only moves cost no sync call', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const s1 = await serverEdit(a.gitDir, { label: 'system/persona', content: 'I am helpful\n' });
    const out1 = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out1.steps).toEqual(['push']);
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(s1);
    expect(h.letta.calls).toHaveLength(0);

    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/a.md', 'a\n');
    const s2 = await serverEdit(a.gitDir, { label: 'system/persona', content: 'I am very helpful\n' });
    const out2 = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out2.steps).toEqual(['merge', 'push']);
    const head = await rev(a.gitDir, 'main');
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(head);
    expect(await rev(a.gitDir, `${head}^1`)).toBe(c1);
    expect(await rev(a.gitDir, `${head}^2`)).toBe(s2);
    expect(h.letta.calls.map((c) => [c.head, c.recompile])).toEqual([[head, false]]);
  });

  it('a true conflict keeps the server side under a conflict ref and takes the external version', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'system/human.md', 'client says\n');
    const s1 = await serverEdit(a.gitDir, { label: 'system/human', content: 'server says\n' });
    const out = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out.conflict).toMatchObject({ server: s1, remote: c1, paths: ['system/human.md'] });
    expect(await rev(a.gitDir, out.conflict!.ref)).toBe(s1);
    const head = await rev(a.gitDir, 'main');
    expect(await rev(h.extPath(a.agentId), 'main')).toBe(head);
    const { g } = await import('../fixtures/server-repo.js');
    expect(await g(h.root, [`--git-dir=${a.gitDir}`, 'show', `${head}:system/human.md`])).toBe('client says');
  });

  it('detects the server overwriting main after a fast-forward and merges again', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const edit = await beginServerEdit(a.gitDir, { label: 'system/persona', content: 'stale copy edit\n' });
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/x.md', 'x\n');
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(await rev(a.gitDir, 'main')).toBe(c1);
    const s1 = await edit.finish(); // copies back refs/heads/main -> s1 (parent: the old main, not c1)
    expect(await rev(a.gitDir, 'main')).toBe(s1);
    const out = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out.steps).toEqual(['merge', 'push']);
    const head = await rev(a.gitDir, 'main');
    const { g } = await import('../fixtures/server-repo.js');
    for (const c of [c1, s1]) await g(h.root, [`--git-dir=${a.gitDir}`, 'merge-base', '--is-ancestor', c, head]);
    expect(await fs.readFile(path.join(a.gitDir, 'refs/heads/main'), 'utf8')).toContain(head);
  });
});
