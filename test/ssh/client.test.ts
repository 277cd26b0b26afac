// The client role against a real sshd (test/fixtures/ssh-host.ts): `init` with an ssh remote template redirects a
// Letta Code checkout there with nothing secret stored; Letta Code's push goes through our pre-push over ssh; an
// unknown host key or a refused key stops `init` with one line and the fix, never a prompt (also on a terminal),
// and nothing is accepted into known_hosts; a local-backend checkout's commits reach the host by our background push.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSshHost, type SshHost } from '../fixtures/ssh-host.js';
import { lcCommit, lcInitialize } from '../fixtures/letta-code-local.js';
import { cli, cliOnTty, commitAll, gitOk, LETTA_BASE, lettaGit, lettaUrl, makeCheckout, md, requireBuild, sandbox, type Sandbox, snapshot, tempDir, writeFile } from '../client/env.js';
import { filesWithSecret } from '../hostile/harness.js';

const AGENT = 'agent-5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
const LOCAL = 'agent-local-7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b';
const TOKEN = 'ssh-suite-token-never-sent-4c1f';

let host: SshHost;
const cleanups: (() => void)[] = [];
beforeAll(async () => {
  requireBuild();
  host = await startSshHost();
});
afterAll(async () => host?.close());
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/**
 * A machine whose ssh uses the fixture's key (or `key`) and a known_hosts that knows the host, or with `unknownHost`
 * an empty one (`emptyKnownHosts`), as on a machine that never connected to it.
 */
function machine(opts: { unknownHost?: boolean; key?: string } = {}): { sb: Sandbox; dir: string; emptyKnownHosts: string } {
  const t = tempDir('lmh-ssh-client-');
  cleanups.push(t.cleanup);
  const emptyKnownHosts = path.join(t.dir, 'empty_known_hosts');
  fs.writeFileSync(emptyKnownHosts, '');
  const ssh = host.sshCommand({ key: opts.key, knownHosts: opts.unknownHost ? emptyKnownHosts : undefined });
  return { sb: sandbox(t.dir, { GIT_SSH_COMMAND: ssh, LETTA_MEMFS_GIT_TOKEN: TOKEN }), dir: t.dir, emptyKnownHosts };
}

const template = (sub: string) => `${host.repoUrl(sub)}/{agentId}.git`;
const init = (sb: Sandbox, cwd: string, remote: string, args: string[] = []) =>
  cli(sb, ['init', '--yes', '--letta-url', LETTA_BASE, '--remote', remote, ...args], { cwd });

describe('a Letta Code checkout redirected to an ssh host', () => {
  it('init redirects it (no token or password stored anywhere); a push runs our pre-push and lands over ssh', () => {
    const { sb, dir, emptyKnownHosts } = machine();
    const name = `agents/${AGENT}.git`;
    host.createRepo(name);
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'), AGENT);
    const loginsBefore = host.logins();

    const r = init(sb, checkout, template('agents'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`  auth      your ssh keys and known_hosts`);
    // init's check reached the host over ssh before writing anything.
    expect(host.logins()).toBe(loginsBefore + 1);
    const config = fs.readFileSync(path.join(checkout, '.git', 'config'), 'utf8');
    expect(config).toContain(`[url "${host.repoUrl(name)}"]\n\tinsteadOf = ${lettaUrl(AGENT)}`);
    expect(config).not.toMatch(/extraHeader|includeIf|credential|sshCommand|StrictHostKeyChecking/i);
    expect(fs.existsSync(path.join(checkout, '.git', 'letta-memfs', 'http-auth.gitconfig'))).toBe(false);
    expect(filesWithSecret([dir], TOKEN)).toEqual([]);

    // Letta Code's push (its Letta key header, helpers cleared): through origin's redirect, our pre-push, then ssh.
    writeFile(checkout, 'system/human.md', md('About the human', 'Ada, over ssh\n'));
    const good = commitAll(sb, checkout, 'human');
    const pushed = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(host.head(name)).toBe(good);

    // A commit our pre-push refuses never reaches the host.
    writeFile(checkout, 'system/persona.md', '---\nread_only: true\n---\nno description\n');
    commitAll(sb, checkout, 'bad frontmatter');
    const refused = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/letta-memfs-hooks: push refused: .*system\/persona\.md/);
    expect(host.head(name)).toBe(good);
    gitOk(sb, checkout, ['reset', '-q', '--hard', good]);

    // Another machine's commit on the host: Letta Code's pull brings it in over ssh; status and doctor agree.
    const other = machine();
    const clone = path.join(other.dir, 'clone');
    gitOk(other.sb, other.dir, ['clone', '-q', host.repoUrl(name), clone]);
    writeFile(clone, 'notes/a.md', 'from elsewhere\n');
    const theirs = commitAll(other.sb, clone, 'elsewhere');
    gitOk(other.sb, clone, ['push', '-q', 'origin', 'main']);
    const pulled = lettaGit(sb, checkout, ['pull', '--ff-only', 'origin', 'main']);
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(gitOk(sb, checkout, ['rev-parse', 'HEAD'])).toBe(theirs);
    expect(cli(sb, ['status'], { cwd: checkout }).status).toBe(0);
    const doctor = cli(sb, ['doctor', '--json'], { cwd: checkout });
    expect(doctor.status, doctor.stdout).toBe(0);
    expect(JSON.stringify(JSON.parse(doctor.stdout))).toMatch(/remote reachable.*answers through origin/);
    // The same checkout from a shell whose ssh does not know the host: doctor names the fix instead of hanging.
    const unknown = cli(sb, ['doctor'], { cwd: checkout, env: { GIT_SSH_COMMAND: host.sshCommand({ knownHosts: emptyKnownHosts }) } });
    expect(unknown.status).toBe(1);
    expect(unknown.stdout + unknown.stderr).toMatch(/ssh does not know the host key of \[127\.0\.0\.1\]:\d+.*ssh-keyscan -p \d+ 127\.0\.0\.1/s);
    expect(filesWithSecret([dir], TOKEN)).toEqual([]);
  });

  it('the scp-like form (user@host:path) works the same', () => {
    const { sb } = machine();
    sb.env.GIT_SSH_COMMAND = host.sshCommand({ port: true });
    const name = `scp/${AGENT}.git`;
    host.createRepo(name);
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'), AGENT);
    const r = init(sb, checkout, `${host.scpUrl('scp')}/{agentId}.git`);
    expect(r.status, r.stderr).toBe(0);
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(host.scpUrl(name));
    writeFile(checkout, 'system/human.md', md('About the human', 'Ada, scp-like\n'));
    const good = commitAll(sb, checkout, 'human');
    const pushed = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(host.head(name)).toBe(good);
  });

  it('an unknown host key: init fails with one line and the fix, changes nothing, and accepts no key', () => {
    const { sb, emptyKnownHosts } = machine({ unknownHost: true });
    host.createRepo(`unknown/${AGENT}.git`);
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'), AGENT);
    const before = snapshot(path.join(checkout, '.git'));
    const logins = host.logins();

    const r = init(sb, checkout, template('unknown'));
    expect(r.status).toBe(1);
    const port = host.port;
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^letta-memfs-hooks: cannot read ssh://\\*\\*\\*@127\\.0\\.0\\.1:${port}/.*: ssh does not know the host key of \\[127\\.0\\.0\\.1\\]:${port}, and letta-memfs-hooks never accepts an unknown one \\(fix: check the fingerprint .* ssh-keyscan -p ${port} 127\\.0\\.0\\.1 >> ~/\\.ssh/known_hosts .*\\)$`,
        ),
      ),
    ]);
    expect(r.stderr).not.toMatch(/StrictHostKeyChecking=no/);
    expect(snapshot(path.join(checkout, '.git'))).toEqual(before);
    expect(fs.readFileSync(emptyKnownHosts, 'utf8')).toBe('');
    expect(host.logins()).toBe(logins);
  });

  it('an unknown host key on a terminal: still no prompt, the same line', async () => {
    const { sb, emptyKnownHosts } = machine({ unknownHost: true });
    host.createRepo(`tty/${AGENT}.git`);
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'), AGENT);
    // cliOnTty fails the test if the command sits at a question for 30 s; it answers none.
    const r = await cliOnTty(sb, ['init', '--letta-url', LETTA_BASE, '--remote', template('tty')], checkout, []);
    expect(r.status).toBe(1);
    expect(r.screen).not.toMatch(/continue connecting|yes\/no|passphrase/i);
    expect(r.screen).toMatch(/ssh does not know the host key of \[127\.0\.0\.1\]:\d+/);
    expect(fs.readFileSync(emptyKnownHosts, 'utf8')).toBe('');
  });

  it('a key the host does not accept: one line naming IdentityFile and ssh-agent', () => {
    const t = tempDir('lmh-ssh-key-');
    cleanups.push(t.cleanup);
    const stranger = path.join(t.dir, 'stranger_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const { sb } = machine({ key: stranger });
    host.createRepo(`denied/${AGENT}.git`);
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'), AGENT);
    const r = init(sb, checkout, template('denied'));
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`\\[127\\.0\\.0\\.1\\]:${host.port} refused every ssh key offered for ${host.user} \\(fix: .*IdentityFile.*ssh-agent`));
  });
});

describe('a local-backend checkout with an ssh host', () => {
  it("each commit reaches the host by our background push; the other machine's pull brings it in", async () => {
    const name = `local/${LOCAL}.git`;
    host.createRepo(name);
    const remote = template('local');
    const seed = { 'system/persona.md': md('Who I am', 'Helpful.\n') };
    const a = machine();
    const aDir = path.join(a.sb.home, '.letta', 'lc-local-backend', 'memfs', LOCAL, 'memory');
    lcInitialize(a.sb, aDir, LOCAL, seed);
    const ia = init(a.sb, aDir, remote);
    expect(ia.status, ia.stderr).toBe(0);
    expect(cli(a.sb, ['pull'], { cwd: aDir }).status).toBe(0);
    expect(host.head(name)).toBe(gitOk(a.sb, aDir, ['rev-parse', 'main']));

    const b = machine();
    const bDir = path.join(b.sb.home, '.letta', 'lc-local-backend', 'memfs', LOCAL, 'memory');
    fs.mkdirSync(bDir, { recursive: true });
    gitOk(b.sb, bDir, ['init', '-q', '-b', 'main']);
    expect(init(b.sb, bDir, remote).status).toBe(0);
    expect(cli(b.sb, ['pull'], { cwd: bDir }).status).toBe(0);

    // Letta Code commits on the laptop: the reference-transaction hook pushes it in the background, over ssh.
    const mine = lcCommit(a.sb, aDir, LOCAL, { 'system/human.md': md('About the human', 'Name: Ada\n') }, 'human')!;
    const end = Date.now() + 30_000;
    while (host.head(name) !== mine && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(host.head(name), fs.readFileSync(path.join(aDir, '.git', 'letta-memfs', 'push.log'), 'utf8')).toBe(mine);

    const pulled = cli(b.sb, ['pull'], { cwd: bDir });
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(gitOk(b.sb, bDir, ['rev-parse', 'main'])).toBe(mine);
    expect(filesWithSecret([a.dir, b.dir], TOKEN)).toEqual([]);
  });
});
