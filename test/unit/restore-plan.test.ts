import { describe, expect, it } from 'vitest';
import { asideName, describeStep, type HostState, type LocalState, planRestore } from '../../src/server/restore/plan.js';

const NOW = new Date('2026-12-02T16:15:07.123Z');
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const ID = 'agent-11111111-1111-4111-8111-111111111111';

const missing: LocalState = { kind: 'missing' };
const broken: LocalState = { kind: 'broken', why: 'error: HEAD: invalid sha1 pointer' };
const sound: LocalState = { kind: 'present', main: A };
const hostMain: HostState = { kind: 'main', oid: B };
const empty: HostState = { kind: 'empty' };
const unreadable: HostState = { kind: 'unreadable', error: "fatal: repository 'https://h/x.git/' not found" };

describe('planRestore', () => {
  it('a missing repo.git is cloned from the host main', () => {
    expect(planRestore(missing, hostMain, NOW)).toEqual({ action: 'clone', oid: B });
  });

  it('a repo.git failing git fsck is moved aside under a dated name next to it, then cloned', () => {
    expect(planRestore(broken, hostMain, NOW)).toEqual({ action: 'replace', oid: B, aside: 'repo.git.broken-20261202T161507Z', why: broken.kind === 'broken' ? broken.why : '' });
  });

  it('a sound repo.git is never replaced: it is pulled (merge, push, fast-forward or nothing), whatever the host has', () => {
    for (const step of ['equal', 'push', 'merge', 'fast-forward', undefined] as const) {
      expect(planRestore(sound, hostMain, NOW, step)).toEqual({ action: 'pull', step });
    }
    // The host's repo has no main: the server's history seeds it.
    expect(planRestore(sound, empty, NOW, 'seed')).toEqual({ action: 'pull', step: 'seed' });
    // A repo whose main is unborn (a restore that stopped half-way) is completed the same way.
    expect(planRestore({ kind: 'present' }, hostMain, NOW, 'create-main')).toEqual({ action: 'pull', step: 'create-main' });
  });

  it('nothing to restore from: fails with the fix, and touches nothing (even a broken repo stays)', () => {
    for (const local of [missing, broken]) {
      const s = planRestore(local, empty, NOW);
      expect(s.action).toBe('fail');
    }
    expect(planRestore(broken, empty, NOW)).toMatchObject({ error: expect.stringContaining('repo.git fails git fsck (error: HEAD: invalid sha1 pointer)') });
    for (const local of [missing, broken, sound]) {
      expect(planRestore(local, unreadable, NOW)).toEqual({
        action: 'fail',
        error: `cannot read the agent's repo on the host: ${unreadable.kind === 'unreadable' ? unreadable.error : ''}`,
        fix: 'check the remote URL template, the token and that the repo exists on the host',
      });
    }
  });
});

describe('asideName', () => {
  it('is UTC, second precision, sortable, and a plain directory name', () => {
    expect(asideName(new Date('2027-01-09T03:04:05.999Z'))).toBe('repo.git.broken-20270109T030405Z');
    expect(asideName(NOW) < asideName(new Date(NOW.getTime() + 1000))).toBe(true);
  });
});

describe('describeStep', () => {
  it('says what would happen per mode, one line each', () => {
    expect(describeStep(ID, { action: 'clone', oid: B }, 'patched')).toBe(
      `${ID}: would clone the host's main bbbbbbbbbbbb into a new repo.git, set it up as init --server does, then sync Letta (sync-from-git)`,
    );
    expect(describeStep(ID, { action: 'clone', oid: B }, 'stock')).toContain("main moved by a push through Letta's /v1/git/ (Letta syncs its blocks)");
    expect(describeStep(ID, planRestore(broken, hostMain, NOW), 'patched')).toContain('would move it aside to repo.git.broken-20261202T161507Z');
    expect(describeStep(ID, { action: 'pull', step: 'merge' }, 'patched')).toContain("merge the server's commits with the host's main, then push the merge (nothing is overwritten)");
    expect(describeStep(ID, { action: 'pull' }, 'patched')).toContain("fetch the host's main, then fast-forward or merge as pull does");
    const fail = describeStep(ID, planRestore(missing, unreadable, NOW), 'patched');
    expect(fail.split('\n')).toHaveLength(1);
    expect(fail).toMatch(/^agent-\S+: cannot restore: .+ \(fix: .+\)$/);
  });
});
