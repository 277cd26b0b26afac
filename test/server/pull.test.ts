import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setupServer } from '../../src/server/setup/init-server.js';
import { pullAgent } from '../../src/server/repo/pull.js';
import { readPullState } from '../../src/sync/state.js';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { beginServerEdit, g, serverEdit } from '../fixtures/server-repo.js';
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
    expect(await g(h.root, [`--git-dir=${a.gitDir}`, 'show', `${head}:system/human.md`])).toBe('client says');
    // Kept where the operator looks: the pull state (what status --server lists), with the server's text under the ref.
    expect((await readPullState(a.gitDir)).conflicts).toEqual([expect.objectContaining({ ref: out.conflict!.ref, server: s1, remote: c1 })]);
    expect(await g(h.root, [`--git-dir=${a.gitDir}`, 'show', `${out.conflict!.ref}:system/human.md`])).toBe('server says');
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
    for (const c of [c1, s1]) await g(h.root, [`--git-dir=${a.gitDir}`, 'merge-base', '--is-ancestor', c, head]);
    expect(await fs.readFile(path.join(a.gitDir, 'refs/heads/main'), 'utf8')).toContain(head);
  });
});

/** Whether `commit` is in the history of `ref` in the repo at `gitDir`. */
async function contains(gitDir: string, ref: string, commit: string): Promise<boolean> {
  return g(h.root, [`--git-dir=${gitDir}`, 'merge-base', '--is-ancestor', commit, ref]).then(() => true, () => false);
}

// The no-loss rules, each on one fixed interleaving that breaks it when the rule is broken (the property test,
// no-loss.property.test.ts, tries random ones). Each moves one side between the pull's look and its write.
describe('pull: no-loss rules on fixed inputs', () => {
  it('an external main rewritten on the host (force-pushed) is still fetched and merged: nothing on either side is lost', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const seed = await rev(a.gitDir, 'main');
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/one.md', 'one\n');
    expect((await pullAgent(a, { config: h.config, letta: h.lettaOpts })).steps).toEqual(['fast-forward']);
    // Someone rewrites the host's main: c1 is gone from it, c2 is on the seed instead.
    const w = path.join(h.root, 'c2');
    await g(h.root, ['clone', '-q', h.extPath(a.agentId), w]);
    await g(w, ['reset', '-q', '--hard', seed]);
    await fs.writeFile(path.join(w, 'notes-two.md'), 'two\n');
    await g(w, ['add', '-A']);
    await g(w, ['-c', 'user.name=Client', '-c', 'user.email=client@example.com', 'commit', '-q', '-m', 'rewritten']);
    await g(w, ['push', '-q', '--force', 'origin', 'HEAD:main']);
    const c2 = await g(w, ['rev-parse', 'HEAD']);

    const out = await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    expect(out.error).toBeUndefined();
    expect(out.steps).toEqual(['merge', 'push']);
    for (const ref of [h.extPath(a.agentId), a.gitDir]) {
      expect(await contains(ref, 'main', c1), `c1 on main of ${ref}`).toBe(true);
      expect(await contains(ref, 'main', c2), `c2 on main of ${ref}`).toBe(true);
    }
  });

  it('never forces its push: a client push that lands after the fetch is merged, not overwritten', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const s1 = await serverEdit(a.gitDir, { label: 'system/persona', content: 'server only\n' });
    let c1 = '';
    const out = await pullAgent(a, {
      config: h.config,
      letta: h.lettaOpts,
      inject: { beforePush: async () => void (c1 ||= await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/late.md', 'late\n')) },
    });
    expect(out.error).toBeUndefined();
    expect(c1).not.toBe('');
    // The first push (planned as a plain push of s1) was rejected; the next round merged the late commit.
    expect(out.steps).toEqual(['merge', 'push']);
    for (const ref of [h.extPath(a.agentId), a.gitDir]) {
      expect(await contains(ref, 'main', c1), `client commit on main of ${ref}`).toBe(true);
      expect(await contains(ref, 'main', s1), `server commit on main of ${ref}`).toBe(true);
    }
  });

  it('moves main by compare-and-swap: a server edit that lands after the fetch is merged, not overwritten', async () => {
    const a = await h.addAgent();
    await setupServer({ config: h.config });
    await pullAgent(a, { config: h.config, letta: h.lettaOpts });
    const c1 = await clientPush(h.extPath(a.agentId), path.join(h.root, 'c1'), 'notes/x.md', 'x\n');
    let s1 = '';
    const out = await pullAgent(a, {
      config: h.config,
      letta: h.lettaOpts,
      inject: { beforeUpdateRef: async () => void (s1 ||= await serverEdit(a.gitDir, { label: 'system/persona', content: 'server meanwhile\n' })) },
    });
    expect(out.error).toBeUndefined();
    expect(s1).not.toBe('');
    // The fast-forward to c1 found main moved (s1) and failed; the next round merged both.
    expect(out.steps).toEqual(['merge', 'push']);
    for (const ref of [a.gitDir, h.extPath(a.agentId)]) {
      expect(await contains(ref, 'main', s1), `server commit on main of ${ref}`).toBe(true);
      expect(await contains(ref, 'main', c1), `client commit on main of ${ref}`).toBe(true);
    }
  });
});
