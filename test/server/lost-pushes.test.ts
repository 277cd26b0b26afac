// A push the service accepted, then overwritten by a Letta server copy-back (refs/heads/main rewritten from a temp
// copy made before the push: facts §6), is merged back into main and delivered; the push wins a conflict and the
// server's side stays under a ref. Real repos; the delivery (Letta's proxy in production) is a CAS update-ref here.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { KEEP_MS, planForget, readPushes, recordPush, recoverPushesLocked } from '../../src/server/repo/lost-pushes.js';
import { createAgentRepo, memfsFile, newAgentId, ORG } from '../memfs-service/fixture.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

const LETTA = { GIT_AUTHOR_NAME: 'User x', GIT_AUTHOR_EMAIL: 'user-x@letta.ai', GIT_COMMITTER_NAME: 'User x', GIT_COMMITTER_EMAIL: 'user-x@letta.ai' };

/** A commit on `parent` with `files` written, made in a scratch clone and fetched into repo.git. */
function commitOn(gitDir: string, parent: string, files: Record<string, string>, message: string, env: NodeJS.ProcessEnv = {}): string {
  const t = tempDir('lmh-lost-');
  dirs.push(t);
  sh(t.dir, ['clone', '-q', gitDir, 'w']);
  const w = path.join(t.dir, 'w');
  sh(w, ['checkout', '-q', parent]);
  for (const [p, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(w, p)), { recursive: true });
    fs.writeFileSync(path.join(w, p), c);
  }
  sh(w, ['add', '-A']);
  sh(w, ['commit', '-q', '-m', message], { env: { ...process.env, ...env } });
  const oid = sh(w, ['rev-parse', 'HEAD']);
  sh(gitDir, ['--git-dir', gitDir, 'fetch', '-q', w, `${oid}:refs/scratch/${oid}`]);
  return oid;
}

function setup() {
  const t = tempDir('lmh-lost-root-');
  dirs.push(t);
  const agent = newAgentId();
  const gitDir = createAgentRepo(t.dir, agent);
  return { repo: { agentId: agent, orgId: ORG, gitDir }, gitDir, base: sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']) };
}

const casDeliver = (gitDir: string, delivered: string[]) => async (commit: string) => {
  const old = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
  sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', commit, old]);
  delivered.push(commit);
  return 'ok' as const;
};

describe('lost pushes', () => {
  it('a push overwritten by a server copy-back is merged back; the push wins the conflict, the server side is kept', async () => {
    const { repo, gitDir, base } = setup();
    const pushed = commitOn(gitDir, base, { 'system/human.md': memfsFile('About the human', 'Ada, from the push'), 'reference/new.md': memfsFile('New', 'pushed file') }, 'client push');
    sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', pushed]);
    await recordPush(gitDir, pushed, 'user-00000000-0000-4000-8000-000000000000');
    // Letta's copy-back: main rewritten to a commit made on the pre-push base.
    const server = commitOn(gitDir, base, { 'system/human.md': memfsFile('About the human', 'Ada, from REST') }, 'Update system/human block', LETTA);
    sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', server]);

    const delivered: string[] = [];
    const r = await recoverPushesLocked(repo, casDeliver(gitDir, delivered));
    expect(r.restored.map((x) => x.oid)).toEqual([pushed]);
    const main = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
    expect(delivered).toEqual([main]);
    sh(gitDir, ['--git-dir', gitDir, 'merge-base', '--is-ancestor', pushed, main]);
    sh(gitDir, ['--git-dir', gitDir, 'merge-base', '--is-ancestor', server, main]);
    expect(sh(gitDir, ['--git-dir', gitDir, 'show', 'main:system/human.md'])).toContain('Ada, from the push');
    expect(sh(gitDir, ['--git-dir', gitDir, 'show', 'main:reference/new.md'])).toContain('pushed file');
    expect(r.conflicts).toHaveLength(1);
    expect(r.conflicts[0].paths).toEqual(['system/human.md']);
    expect(sh(gitDir, ['--git-dir', gitDir, 'rev-parse', r.conflicts[0].ref])).toBe(server);

    // Checked again: nothing to do; the record is kept until it is old enough to forget.
    const again = await recoverPushesLocked(repo, casDeliver(gitDir, delivered));
    expect(again.restored).toEqual([]);
    expect(delivered).toHaveLength(1);
    expect((await readPushes(gitDir)).map((p) => p.oid)).toEqual([pushed]);
    await recoverPushesLocked(repo, casDeliver(gitDir, delivered), Date.now() + KEEP_MS);
    expect(await readPushes(gitDir)).toEqual([]);
  });

  it('a delivery refused because main moved is merged again on the new main', async () => {
    const { repo, gitDir, base } = setup();
    const pushed = commitOn(gitDir, base, { 'reference/a.md': memfsFile('A', 'a') }, 'client push');
    await recordPush(gitDir, pushed);
    const s1 = commitOn(gitDir, base, { 'system/persona.md': memfsFile('P', 'one') }, 'Update system/persona block', LETTA);
    sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', s1]);
    const s2 = commitOn(gitDir, s1, { 'system/persona.md': memfsFile('P', 'two') }, 'Update system/persona block', LETTA);
    let first = true;
    const delivered: string[] = [];
    const cas = casDeliver(gitDir, delivered);
    const r = await recoverPushesLocked(repo, async (commit) => {
      if (first) {
        // A server commit lands while the merge is on its way: the proxy's push is rejected (non-fast-forward).
        first = false;
        sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', s2]);
        return 'rejected';
      }
      return cas(commit);
    });
    expect(r.restored).toHaveLength(1);
    const main = sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'main']);
    sh(gitDir, ['--git-dir', gitDir, 'merge-base', '--is-ancestor', pushed, main]);
    sh(gitDir, ['--git-dir', gitDir, 'merge-base', '--is-ancestor', s2, main]);
    expect(r.conflicts).toEqual([]);
  });

  it('of many recorded pushes main contains, none is merged again; the one a copy-back lost is', async () => {
    const { repo, gitDir, base } = setup();
    // A busy agent: a record per push, each a commit main went through (records are kept for 90 s).
    let tip = base;
    for (let i = 0; i < 12; i++) {
      tip = commitOn(gitDir, tip, { [`reference/n${i}.md`]: memfsFile(`N${i}`, `push ${i}`) }, `push ${i}`);
      await recordPush(gitDir, tip);
    }
    const lost = commitOn(gitDir, tip, { 'reference/lost.md': memfsFile('Lost', 'overwritten') }, 'lost push');
    await recordPush(gitDir, lost);
    const server = commitOn(gitDir, tip, { 'system/persona.md': memfsFile('P', 'server') }, 'Update system/persona block', LETTA);
    sh(gitDir, ['--git-dir', gitDir, 'update-ref', 'refs/heads/main', server]);
    const delivered: string[] = [];
    const r = await recoverPushesLocked(repo, casDeliver(gitDir, delivered));
    expect(r.checked).toBe(13);
    expect(r.restored.map((x) => x.oid)).toEqual([lost]);
    expect(delivered).toHaveLength(1);
    expect(sh(gitDir, ['--git-dir', gitDir, 'show', 'main:reference/lost.md'])).toContain('overwritten');
  });

  it('planForget keeps young records and records main does not contain', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const recs = [
      { oid: 'a', at: '2026-01-01T00:00:00Z' },
      { oid: 'b', at: '2026-01-01T00:09:59Z' },
      { oid: 'c', at: '2026-01-01T00:00:00Z' },
    ];
    expect([...planForget(recs, new Set(['a', 'b']), now)]).toEqual(['a']);
  });
});
