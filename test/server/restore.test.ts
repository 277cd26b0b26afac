/**
 * `restore` as an operator runs it after losing the memfs volume: the built CLI, Letta-made repos, a real smart-HTTP
 * git host with a token, and the Letta double (which lists agents and answers sync-from-git). The partial cases:
 * a repo missing, one failing git fsck, one whose host copy is behind the server's, one equal.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { startLettaDouble, type LettaDouble } from '../fixtures/letta-double.js';
import { createServerRepo, g, newAgentId, ORG_ID, serverEdit } from '../fixtures/server-repo.js';
import { runCliAsync } from '../helpers/cli.js';

const TOKEN = 'tok-restore-4f1e9a';
let root: string;
let memfsRoot: string;
let host: GitHost;
let letta: LettaDouble;
let ids: string[];

const repoOf = (id: string) => path.join(memfsRoot, 'repository', ORG_ID, id, 'repo.git');
const rev = (gitDir: string, ref: string) => g(gitDir, [`--git-dir=${gitDir}`, 'rev-parse', '--verify', '-q', ref]).catch(() => '');
const hostMain = (id: string) => host.git(`agents/${id}.git`, ['rev-parse', 'main']);

const cli = (args: string[]) => runCliAsync(args, { cwd: root, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });

/** Every file under a directory with its bytes: "nothing changed" is checked against this. */
function snapshot(dir: string): string {
  if (!fsSync.existsSync(dir)) return '(none)';
  return (fsSync.readdirSync(dir, { recursive: true, withFileTypes: true }) as fsSync.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort()
    .map((p) => `${p}:${fsSync.readFileSync(p).toString('base64')}`)
    .join('\n');
}

beforeEach(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'lmh-restore-')));
  memfsRoot = path.join(root, 'memfs');
  ids = [newAgentId(), newAgentId(), newAgentId(), newAgentId()].sort();
  host = await startGitHost({ token: TOKEN });
  letta = await startLettaDouble({ memfsRoot, knownAgents: ids, plainAgents: [newAgentId()] });
  for (const id of ids) {
    await createServerRepo(memfsRoot, id, { 'system/human.md': `---\ndescription: The human\n---\nName of ${id}\n`, 'system/persona.md': 'I help.\n' });
    await host.createRepo(`agents/${id}.git`);
  }
  const init = await cli(['init', '--server', '--memfs-root', memfsRoot, '--remote', `${host.url}/agents/{agentId}.git`, '--letta-url', letta.url, '--mode', 'patched']);
  expect(init.code, init.err).toBe(0);
  const seed = await cli(['pull', '--all']);
  expect(seed.code, seed.out + seed.err).toBe(0);
  for (const id of ids) expect(hostMain(id)).toBe(await rev(repoOf(id), 'main'));
});

afterEach(async () => {
  await letta.close();
  await host.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe('restore', () => {
  it('after losing the whole repository dir: every listed agent is cloned into Letta\'s layout, set up, and synced once', async () => {
    await fs.rm(path.join(memfsRoot, 'repository'), { recursive: true });
    const before = letta.calls.length;
    const r = await cli(['restore']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(`${ids.length} agent(s), ${ids.length} cloned from the host, 0 failed`);
    for (const id of ids) {
      const gitDir = repoOf(id);
      expect(r.out).toContain(`${id}: cloned from the host; synced (recompile)`);
      // Letta's layout: a non-bare .git folder with HEAD at main, an index, main at the host's main.
      expect(await g(gitDir, [`--git-dir=${gitDir}`, 'config', 'core.bare'])).toBe('false');
      expect(fsSync.readFileSync(path.join(gitDir, 'HEAD'), 'utf8')).toBe('ref: refs/heads/main\n');
      expect(fsSync.existsSync(path.join(gitDir, 'index'))).toBe(true);
      expect(await rev(gitDir, 'main')).toBe(hostMain(id));
      expect(await g(gitDir, [`--git-dir=${gitDir}`, 'show', 'main:system/human.md'])).toContain(`Name of ${id}`);
      // Set up as init --server leaves it: remote, gc.auto=0, hook files; no leftovers next to it.
      expect(await g(gitDir, [`--git-dir=${gitDir}`, 'config', 'remote.letta-memfs.url'])).toBe(`${host.url}/agents/${id}.git`);
      expect(await g(gitDir, [`--git-dir=${gitDir}`, 'config', 'gc.auto'])).toBe('0');
      expect(fsSync.statSync(path.join(gitDir, 'hooks', 'reference-transaction')).mode & 0o111).not.toBe(0);
      expect(fsSync.readdirSync(path.dirname(gitDir))).toEqual(['repo.git']);
      expect((await readSyncState(gitDir)).lastSynced).toBe(hostMain(id));
    }
    // One sync per agent, each reading the restored main; the agent without git memory was not touched.
    const calls = letta.calls.slice(before);
    expect(calls.map((c) => c.agentId).sort()).toEqual(ids);
    for (const c of calls) expect(c).toMatchObject({ recompile: true, status: 200, head: hostMain(c.agentId) });
    expect(fsSync.readdirSync(path.join(memfsRoot, 'repository', ORG_ID)).sort()).toEqual(ids);
    // The token never reached argv-visible or stored places.
    for (const id of ids) expect(fsSync.readFileSync(path.join(repoOf(id), 'config'), 'utf8') + fsSync.readFileSync(path.join(repoOf(id), 'letta-memfs', 'config'), 'utf8')).not.toContain(TOKEN);

    // A second run is a no-op: nothing moves, nothing is called.
    const again = await cli(['restore', '--json']);
    expect(again.code, again.err).toBe(0);
    const outcomes = JSON.parse(again.out) as { agentId: string; action: string; pull: { steps: string[] } }[];
    expect(outcomes.map((o) => [o.action, o.pull.steps.length])).toEqual(ids.map(() => ['pull', 0]));
    expect(letta.calls.length).toBe(before + ids.length);

    // Ready for watch's periodic work: a client push reaches the repo and Letta through pull.
    const work = path.join(root, 'client');
    await g(root, ['clone', '-q', host.repoPath(`agents/${ids[0]}.git`), work]);
    await fs.writeFile(path.join(work, 'system/persona.md'), 'I help a lot.\n');
    await g(work, ['commit', '-qam', 'client edit'], { env: { GIT_AUTHOR_NAME: 'c', GIT_AUTHOR_EMAIL: 'c@x', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@x' } });
    await g(work, ['push', '-q', 'origin', 'main']);
    const pull = await cli(['pull', '--agent', ids[0]]);
    expect(pull.out).toContain(`${ids[0]}: fast-forward; synced`);
  });

  it('partial cases: missing, failing git fsck, host behind the server, equal; --dry-run first changes nothing', async () => {
    const [missing, broken, ahead, equal] = ids;
    await fs.rm(repoOf(missing), { recursive: true });
    // A lost object: main's commit is gone from a Letta-made (loose) repo.
    const head = await rev(repoOf(broken), 'main');
    await fs.rm(path.join(repoOf(broken), 'objects', head.slice(0, 2), head.slice(2)));
    const serverCommit = await serverEdit(repoOf(ahead), { label: 'system/persona', content: 'Edited on the server after the last push.\n' });
    const hostBefore = hostMain(ahead);
    expect(serverCommit).not.toBe(hostBefore);

    const was = snapshot(memfsRoot);
    const hostWas = snapshot(host.root);
    const dry = await cli(['restore', '--dry-run']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain(`${missing}: would clone the host's main ${hostMain(missing).slice(0, 12)} into a new repo.git`);
    expect(dry.out).toMatch(new RegExp(`${broken}: repo.git fails git fsck \\(.+\\): would move it aside to repo.git.broken-\\d{8}T\\d{6}Z`));
    expect(dry.out).toContain(`${ahead}: repo.git is sound: would set it up as init --server does and push the server's newer commits to the host (they are kept)`);
    expect(dry.out).toContain(`${equal}: repo.git is sound: would set it up as init --server does and up to date with the host: nothing to do`);
    expect(snapshot(memfsRoot)).toBe(was);
    expect(snapshot(host.root)).toBe(hostWas);
    const callsBefore = letta.calls.length;

    const r = await cli(['restore', '--json']);
    expect(r.code, r.err).toBe(0);
    const by = new Map((JSON.parse(r.out) as { agentId: string; action: string; movedAside?: string; pull: { steps: string[] } }[]).map((o) => [o.agentId, o]));
    expect(by.get(missing)).toMatchObject({ action: 'clone' });
    expect(await rev(repoOf(missing), 'main')).toBe(hostMain(missing));
    // The broken repo is kept next to the new one, under a dated name.
    const aside = by.get(broken)!.movedAside!;
    expect(path.dirname(aside)).toBe(path.dirname(repoOf(broken)));
    expect(path.basename(aside)).toMatch(/^repo\.git\.broken-\d{8}T\d{6}Z$/);
    expect(fsSync.existsSync(path.join(aside, 'HEAD'))).toBe(true);
    expect(await rev(repoOf(broken), 'main')).toBe(hostMain(broken));
    expect((await g(root, ['--git-dir', repoOf(broken), 'fsck', '--no-progress']).then(() => 'ok'))).toBe('ok');
    // The server's newer commit is kept and pushed, never overwritten by the host's older main.
    expect(by.get(ahead)!.pull.steps).toEqual(['push']);
    expect(await rev(repoOf(ahead), 'main')).toBe(serverCommit);
    expect(hostMain(ahead)).toBe(serverCommit);
    expect(by.get(equal)!.pull.steps).toEqual([]);
    // Syncs: the two cloned agents only (a server commit needs none: Letta wrote it).
    expect(letta.calls.slice(callsBefore).map((c) => c.agentId).sort()).toEqual([missing, broken].sort());
  });

  it('a host without the repo, bad flags: one line with the fix, nothing created', async () => {
    const lonely = newAgentId();
    const r = await cli(['restore', '--agent', lonely]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^${lonely}: restore failed: cannot read the agent's repo on the host: .+ \\(fix: check the remote URL template, the token and that the repo exists on the host\\)$`, 'm'));
    expect(fsSync.existsSync(path.join(memfsRoot, 'repository', ORG_ID, lonely))).toBe(false);

    const badOrg = await cli(['restore', '--org', '../x']);
    expect(badOrg.code).toBe(2);
    expect(badOrg.err.trim().split('\n')).toHaveLength(1);
    expect(badOrg.err).toContain('--org must be org-<uuid>');
    const badAgent = await cli(['restore', '--agent', 'agent-../../etc']);
    expect(badAgent.code).toBe(2);

    await letta.setMode('down');
    const down = await cli(['restore']);
    expect(down.code).toBe(1);
    expect(down.err.trim().split('\n')).toHaveLength(1);
    expect(down.err).toMatch(/cannot reach Letta at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});
