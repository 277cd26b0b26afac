/**
 * Issue "works as written": the first command on a machine with no git host, and the server role on a fresh host
 * before Letta made its first agent, run as users run them (the bundle, dist/runtime/cli.mjs), against real repos.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { foldLines } from '../../src/core/log-coalesce.js';
import { tempDir } from '../helpers/repo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'dist', 'runtime', 'cli.mjs');
const AGENT = 'agent-123e4567-e89b-42d3-a456-426614174000';
const LOCAL_AGENT = 'agent-local-9b2f6c1e-4d3a-4e5b-8c7d-1a2b3c4d5e6f';
const ORG = 'org-00000000-0000-4000-8000-000000000000';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function machine() {
  const t = tempDir('lmh-works-');
  cleanups.push(t.cleanup);
  const home = path.join(t.dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, '.gitconfig'), '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_DATA_HOME: process.env.XDG_DATA_HOME };
  Object.assign(env, { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'), GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' });
  const run = (args: string[], cwd = home) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const git = (cwd: string, ...args: string[]) => {
    const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** A checkout as Letta Code leaves it: a server agent's (origin its Letta URL) or a local-backend one (no remote). */
  const checkout = (dir: string, agent: string, origin?: string) => {
    fs.mkdirSync(path.join(dir, 'system'), { recursive: true });
    git(dir, 'init', '-q', '-b', 'main');
    if (origin) git(dir, 'remote', 'add', 'origin', origin);
    git(dir, 'config', 'letta.agentId', agent);
    for (const n of [1, 2]) {
      fs.writeFileSync(path.join(dir, 'system', 'human.md'), `---\ndescription: Human\n---\nversion ${n}\n`);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', `edit ${n}`);
    }
    return git(dir, 'rev-parse', 'main');
  };
  return { dir: t.dir, home, env, run, git, checkout };
}

describe('init --all --local: the first command with no git host', () => {
  it('backs every Letta Code checkout up with its history, hooks in place; a re-run changes nothing and says so', () => {
    const m = machine();
    const server = path.join(m.home, '.letta', 'agents', AGENT, 'memory');
    const local = path.join(m.home, '.letta', 'lc-local-backend', 'memfs', LOCAL_AGENT, 'memory');
    const serverHead = m.checkout(server, AGENT, `https://api.letta.com/v1/git/${AGENT}/state.git`);
    const localHead = m.checkout(local, LOCAL_AGENT);

    const first = m.run(['init', '--all', '--local']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toContain(`${AGENT}: set up,`);
    expect(first.out).toContain(`${LOCAL_AGENT}: set up, origin`);
    expect(first.out).toMatch(/2 checkout\(s\), 2 set up, 0 already set up, 0 failed/);
    for (const [agent, head] of [[AGENT, serverHead], [LOCAL_AGENT, localHead]]) {
      const bare = path.join(m.home, '.letta', 'memfs-remote', `${agent}.git`);
      expect(m.git(bare, 'rev-parse', 'main')).toBe(head);
      expect(m.git(bare, 'rev-list', '--count', 'main')).toBe('2');
    }
    // The hooks push what comes after: a new commit pushed the way Letta Code pushes the server agent's checkout.
    fs.writeFileSync(path.join(server, 'system', 'human.md'), '---\ndescription: Human\n---\nversion 3\n');
    m.git(server, 'commit', '-q', '-am', 'edit 3');
    m.git(server, 'push', '-q', 'origin', 'main');
    expect(m.git(path.join(m.home, '.letta', 'memfs-remote', `${AGENT}.git`), 'rev-parse', 'main')).toBe(m.git(server, 'rev-parse', 'main'));

    const again = m.run(['init', '--all']);
    expect(again.code).toBe(0);
    expect(again.out).toContain(`${AGENT}: already set up,`);
    expect(again.out).toContain(`${LOCAL_AGENT}: already set up,`);
    expect(again.out).toMatch(/2 checkout\(s\), 0 set up, 2 already set up, 0 failed/);
  });

  it('with no checkout yet: one line saying how Letta Code makes one, exit 0, nothing written', () => {
    const m = machine();
    const r = m.run(['init', '--all', '--local']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(r.out).toMatch(/^no Letta Code memory checkout yet \(none under .*\.letta\/agents or .*lc-local-backend\/memfs\): Letta Code makes one when you turn memfs on/);
    expect(fs.existsSync(path.join(m.home, '.letta'))).toBe(false);
  });

  it('init --local in a local-backend agent dir with no repo yet: makes the repo Letta Code would, restores the backup into it', () => {
    const m = machine();
    const dir = path.join(m.home, '.letta', 'lc-local-backend', 'memfs', LOCAL_AGENT, 'memory');
    const head = m.checkout(dir, LOCAL_AGENT);
    expect(m.run(['init', '--local'], dir).code).toBe(0);
    // A second machine (here: the same one after the checkout was lost) with only the backup.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const r = m.run(['init', '--local'], dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/history\s+restored from .*memfs-remote\/agent-local-/);
    expect(m.git(dir, 'rev-parse', 'main')).toBe(head);
    expect(m.git(dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(m.git(dir, 'status', '--porcelain')).toBe('');
    expect(r.out).toMatch(/auth\s+none: a path on this machine/);
    expect(r.out).not.toMatch(/ssh keys/);
  });
});

describe('server role on a fresh host (Letta made no agent yet)', () => {
  it('init --server records the settings and says no agents yet, exit 0; a missing root is refused with the real path', () => {
    const m = machine();
    const root = path.join(m.dir, 'memfs');
    fs.mkdirSync(root);
    const r = m.run(['init', '--server', '--memfs-root', root, '--remote', `${m.dir}/ext/{agentId}.git`, '--mode', 'patched']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`no agents yet: ${path.join(root, 'repository')} does not exist (Letta creates it with its first git-enabled agent`);
    expect(r.out).toMatch(/set up 0 agent repo\(s\)/);
    // The package ships no deploy/: the message says where it is.
    expect(r.out).toContain("the source repository's deploy/ has a systemd unit and compose files");
    expect(JSON.parse(fs.readFileSync(path.join(root, '.letta-memfs-hooksrc.json'), 'utf8'))).toMatchObject({ remote: `${m.dir}/ext/{agentId}.git` });
    const missing = m.run(['init', '--server', '--memfs-root', path.join(m.dir, 'nope'), '--remote', `${m.dir}/ext/{agentId}.git`]);
    expect(missing.code).toBe(1);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toContain(`${path.join(m.dir, 'nope')} does not exist (fix: pass the Letta memfs root with --memfs-root: ~/.letta/memfs of the user Letta runs as`);
  });

  it('watch starts with no repository/ and sets an agent up when Letta creates it', async () => {
    const m = machine();
    const root = path.join(m.dir, 'memfs');
    fs.mkdirSync(root);
    expect(m.run(['init', '--server', '--memfs-root', root, '--remote', `${m.dir}/ext/{agentId}.git`, '--mode', 'patched']).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'watch', '--memfs-root', root, '--no-listen', '--interval', '1', '--rescan', '0.5'], { env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const until = async (re: RegExp) => {
        for (let i = 0; i < 200 && !re.test(log); i++) await new Promise((r) => setTimeout(r, 100));
        expect(log).toMatch(re);
      };
      await until(/no agents yet: .*repository does not exist/);
      // Letta creates the agent's repo (a non-bare repo's .git, facts file section 1).
      const work = path.join(m.dir, 'letta-work');
      m.checkout(work, AGENT);
      fs.mkdirSync(path.join(root, 'repository', ORG, AGENT), { recursive: true });
      fs.renameSync(path.join(work, '.git'), path.join(root, 'repository', ORG, AGENT, 'repo.git'));
      await until(new RegExp(`${AGENT}: new agent repo set up`));
      expect(log.match(new RegExp(`${AGENT}: new agent repo set up`, 'g'))).toHaveLength(1);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('serve starts with no memfs root, logs with timestamps, and never suggests http://0.0.0.0 for Letta', async () => {
    const m = machine();
    const secret = path.join(m.dir, 'secret');
    fs.writeFileSync(secret, 'a'.repeat(64), { mode: 0o600 });
    const root = path.join(m.dir, 'memfs-not-yet');
    const child = spawn(process.execPath, [BIN, 'serve', '--memfs-root', root, '--secret-file', secret, '--letta-url', 'http://127.0.0.1:9', '--host', '0.0.0.0', '--port', '0'], { env: m.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 100 && !/no agents yet/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
      const lines = log.trim().split('\n');
      expect(log).toMatch(/serve: memfs git service for /);
      expect(log).toMatch(/serve: no agents yet: .*memfs-not-yet\/repository does not exist/);
      for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z letta-memfs-hooks: /);
      expect(log).not.toContain('LETTA_MEMFS_SERVICE_URL=http://0.0.0.0');
      expect(log).toMatch(/LETTA_MEMFS_SERVICE_URL=http:\/\/<this machine's address, as Letta reaches it>:\d+\/<secret>/);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

describe('smaller items', () => {
  it('init --server --help names the command to run, not a template placeholder', () => {
    const m = machine();
    const r = m.run(['init', '--server', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('${');
    expect(r.out).toMatch(/LETTA_MEMFS_SERVICE_URL at our serve command/);
  });

  it('doctor outside a checkout on a machine with no Letta server: where the checkouts are, not server advice', () => {
    const m = machine();
    const none = m.run(['doctor']);
    expect(none.code).toBe(2);
    expect(none.out).toBe('');
    expect(none.err.trim().split('\n')).toHaveLength(1);
    expect(none.err).toMatch(/not in a memory checkout \(fix: run doctor inside one, or pass --repo <dir>: none on this machine yet/);
    expect(none.err).not.toMatch(/memfs root given/);
    const dir = path.join(m.home, '.letta', 'agents', AGENT, 'memory');
    m.checkout(dir, AGENT, `https://api.letta.com/v1/git/${AGENT}/state.git`);
    expect(m.run(['doctor']).err).toContain(`e.g. --repo ${dir} (1 checkout(s) on this machine)`);
  });

  it('watch --once counts a new agent once: one pull, one failure (its remote is missing)', () => {
    const m = machine();
    const root = path.join(m.dir, 'memfs');
    const work = path.join(m.dir, 'letta-work');
    m.checkout(work, AGENT);
    fs.mkdirSync(path.join(root, 'repository', ORG, AGENT), { recursive: true });
    fs.renameSync(path.join(work, '.git'), path.join(root, 'repository', ORG, AGENT, 'repo.git'));
    fs.writeFileSync(path.join(root, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${m.dir}/no-such-dir/{agentId}.git`, serverMode: 'patched' }));
    const r = m.run(['watch', '--once', '--memfs-root', root, '--no-listen']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^1 agents \(1 new\), 1 pulls, \d+ sync calls, 0 conflicts, 1 failures$/m);
    expect(r.out.match(new RegExp(`${AGENT}: pull failed`, 'g'))).toHaveLength(1);
    expect(r.err).not.toMatch(/2 agents/);
  });

  it('status after init moved the remote shows neither the old host\'s tracking ref nor its last push', () => {
    const m = machine();
    const dir = path.join(m.home, '.letta', 'agents', AGENT, 'memory');
    m.checkout(dir, AGENT, `https://api.letta.com/v1/git/${AGENT}/state.git`);
    for (const h of ['a', 'b']) m.git(m.dir, 'init', '-q', '--bare', '-b', 'main', path.join(m.dir, h, `${AGENT}.git`));
    expect(m.run(['init', '--yes', '--remote', `${m.dir}/a/{agentId}.git`], dir).code).toBe(0);
    m.git(dir, 'push', '-q', 'origin', 'main');
    expect(m.run(['status', '--json'], dir).out).toContain('"remoteMain"');
    expect(m.run(['init', '--yes', '--remote', `${m.dir}/b/{agentId}.git`], dir).code).toBe(0);
    const st = JSON.parse(m.run(['status', '--json'], dir).out) as { remoteMain?: unknown; lastPush?: unknown };
    expect(st.remoteMain).toBeUndefined();
    expect(st.lastPush).toBeUndefined();
  });

  it('the watch log folds one agent pulled twice into one agent, not two', () => {
    const line = 'pull failed: no remote';
    expect(foldLines([`${AGENT} (new-agent): ${line}`, `${AGENT} (webhook): ${line}`])).toEqual([`${AGENT} (new-agent, webhook): ${line}`]);
  });

  it('a remote host that does not resolve gets a DNS fix, not "create the repo"', () => {
    const m = machine();
    const dir = path.join(m.home, '.letta', 'agents', AGENT, 'memory');
    m.checkout(dir, AGENT, `https://api.letta.com/v1/git/${AGENT}/state.git`);
    const r = spawnSync(process.execPath, [BIN, 'init', '--yes', '--remote', 'https://no-such-host.invalid/agents/{agentId}.git'], {
      cwd: dir,
      env: { ...m.env, LETTA_MEMFS_GIT_TOKEN: 'tok-0123456789abcdef' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Could not resolve host.*\(fix: check the host name in the remote URL and this machine's DNS\/network, or pass --no-verify\)/);
    expect(r.stderr).not.toContain('create the repo');
  });
});
