// The server role against a real sshd (test/fixtures/ssh-host.ts), as real processes of the built CLI: `init
// --server` with an ssh template, `pull` (seed, fast-forward with the sync call, a server edit pushed out), `watch`
// (a server edit pushed out, a client push brought in on a poke) and `serve`'s mirror of a pushed main. The Letta
// side is the same double and stand-in the http tests use. Keys and known_hosts reach ssh only through
// GIT_SSH_COMMAND in the processes' environment, as an operator's unit or compose file sets it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readSyncState } from '../../src/server/letta/sync-state.js';
import { signPoke } from '../../src/sync/poke-signature.js';
import { startSshHost, type SshHost } from '../fixtures/ssh-host.js';
import { createServerRepo, serverEdit } from '../fixtures/server-repo.js';
import { CLI, runCliAsync } from '../helpers/cli.js';
import { sh } from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { gitClient, newAgentId, startService, type Service } from '../memfs-service/fixture.js';
import { type Harness, makeHarness, rev } from '../server/harness.js';

const TOKEN = 'ssh-server-token-never-sent-9a2e';
const SECRET = 'ssh-watch-secret-4f1c';

let host: SshHost;
let h: Harness;
beforeAll(async () => {
  host = await startSshHost();
});
afterAll(async () => host?.close());
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.cleanup());

const sshEnv = (knownHosts?: string) => ({ GIT_SSH_COMMAND: host.sshCommand({ knownHosts }), LETTA_MEMFS_GIT_TOKEN: TOKEN });
const template = (sub: string) => `${host.repoUrl(sub)}/{agentId}.git`;
const cli = (args: string[], env: NodeJS.ProcessEnv = sshEnv()) => runCliAsync(args, { cwd: h.root, env });

/** A client of the ssh host: clones (once), commits one file, pushes; returns the commit. */
function clientCommit(url: string, dir: string, file: string, text: string): string {
  const env = { GIT_SSH_COMMAND: host.sshCommand() };
  if (!fs.existsSync(dir)) sh(h.root, ['clone', '-q', url, dir], { env });
  else sh(dir, ['pull', '-q', '--ff-only', 'origin', 'main'], { env });
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), `---\ndescription: ${file}\n---\n${text}\n`);
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', `client edit ${file}`]);
  sh(dir, ['push', '-q', 'origin', 'HEAD:main'], { env });
  return sh(dir, ['rev-parse', 'HEAD']);
}

function grepTree(dir: string, needle: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((p) => fs.readFileSync(p).includes(needle));
}

describe('pull over ssh', () => {
  it('seeds the host, brings a client push in with its sync call, pushes a server edit out; an unknown host key is one line', async () => {
    const a = await h.addAgent();
    const name = `pull/${a.agentId}.git`;
    const url = host.createRepo(name);
    const init = await cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', template('pull'), '--letta-url', h.letta.url, '--mode', 'patched']);
    expect(init.err).toBe('');
    expect(init.code).toBe(0);

    const logins = host.logins();
    const seed = await cli(['pull', '--all', '--memfs-root', h.memfsRoot]);
    expect(seed.code, seed.err).toBe(0);
    expect(host.head(name)).toBe(await rev(a.gitDir, 'main'));
    expect(host.logins()).toBeGreaterThan(logins);

    const pushed = clientCommit(url, path.join(h.root, 'client'), 'system/human.md', 'Ada, over ssh');
    const ff = await cli(['pull', '--all', '--memfs-root', h.memfsRoot, '--json']);
    expect(ff.code, ff.err).toBe(0);
    expect(await rev(a.gitDir, 'main')).toBe(pushed);
    expect(h.letta.calls).toMatchObject([{ agentId: a.agentId, head: pushed, recompile: true }]);

    const edit = await serverEdit(a.gitDir, { label: 'system/persona', content: '---\ndescription: persona\n---\nedited in the ADE\n' });
    const out = await cli(['pull', '--all', '--memfs-root', h.memfsRoot]);
    expect(out.code, out.err).toBe(0);
    expect(host.head(name)).toBe(edit);

    // A host key this machine never saw: one line per agent with the fix, nothing moved, no key accepted.
    const empty = path.join(h.root, 'empty_known_hosts');
    fs.writeFileSync(empty, '');
    clientCommit(url, path.join(h.root, 'client'), 'notes/n.md', 'not fetched');
    const refused = await cli(['pull', '--all', '--memfs-root', h.memfsRoot], sshEnv(empty));
    expect(refused.code).toBe(1);
    expect(refused.out.trim().split('\n')).toHaveLength(1);
    expect(refused.out).toMatch(new RegExp(`^${a.agentId}: pull failed: fetch from the external remote failed: ssh does not know the host key of \\[127\\.0\\.0\\.1\\]:${host.port}, .*\\(fix: .*ssh-keyscan -p ${host.port} 127\\.0\\.0\\.1 >> ~/\\.ssh/known_hosts`));
    expect(await rev(a.gitDir, 'main')).toBe(edit);
    expect(fs.readFileSync(empty, 'utf8')).toBe('');
    const doctor = await cli(['doctor', '--server', '--memfs-root', h.memfsRoot, '--json'], sshEnv(empty));
    expect(doctor.code).toBe(1);
    expect(doctor.out).toContain('ssh-keyscan -p');

    // No token was offered to the ssh host or written anywhere.
    expect(grepTree(h.memfsRoot, TOKEN)).toEqual([]);
  }, 120_000);
});

describe('watch over ssh', () => {
  it('seeds the host, pushes a server edit out, and pulls a poked client push in', async () => {
    const a = await h.addAgent();
    const name = `watch/${a.agentId}.git`;
    const url = host.createRepo(name);
    fs.writeFileSync(path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: template('watch'), lettaUrl: h.letta.url, syncRetries: 1, webhookPort: 0, serverMode: 'patched' }));
    const child = spawn(process.execPath, [CLI, 'watch', '--memfs-root', h.memfsRoot, '--interval', '3600', '--rescan', '0.5'], {
      env: { ...process.env, ...sshEnv(), XDG_CONFIG_HOME: path.join(h.root, 'xdg'), LETTA_MEMFS_WEBHOOK_SECRET: SECRET, LETTA_MEMFS_INTERNAL: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const wait = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>) => until(what, fn, 60_000, () => log.slice(-3000));
    try {
      const main = await rev(a.gitDir, 'main');
      await wait('seeded over ssh', () => (host.head(name) === main ? true : undefined));

      const s1 = await serverEdit(a.gitDir, { label: 'system/persona', content: '---\ndescription: persona\n---\nedited in the ADE\n' });
      await wait('server edit pushed over ssh', () => (host.head(name) === s1 ? true : undefined));

      await wait('the webhook line', () => (/webhooks on http:\/\/[^:]+:\d+/.test(log) ? true : undefined));
      const port = Number(/webhooks on http:\/\/[^:]+:(\d+)/.exec(log)?.[1]);
      const pushed = clientCommit(url, path.join(h.root, 'client'), 'system/human.md', 'poked over ssh');
      const r = await request(`http://127.0.0.1:${port}/poke/${a.agentId}`, { method: 'POST', headers: signPoke(SECRET, a.agentId) });
      expect(r.statusCode).toBe(202);
      await r.body.text();
      await wait('poke fetched over ssh and synced', async () => ((await readSyncState(a.gitDir)).lastSynced === pushed ? true : undefined));
      expect(await rev(a.gitDir, 'main')).toBe(pushed);
      expect(h.letta.calls.map((c) => [c.agentId, c.head])).toEqual([[a.agentId, pushed]]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(log).not.toContain(TOKEN);
  }, 120_000);
});

describe("serve's mirror over ssh", () => {
  let svc: Service | undefined;
  afterEach(async () => {
    await svc?.stop();
    svc?.cleanup();
    svc = undefined;
  });

  it('a push through serve reaches the ssh host with no watch running', async () => {
    const root = path.join(h.root, 'stock');
    const agent = newAgentId();
    await createServerRepo(root, agent);
    const name = `mirror/${agent}.git`;
    host.createRepo(name);
    const init = await cli(['init', '--server', '--memfs-root', root, '--remote', template('mirror'), '--mode', 'stock', '--letta-url', h.letta.url]);
    expect(init.code, init.err).toBe(0);
    svc = await startService({ root, env: sshEnv() });
    const clone = path.join(h.root, 'c');
    const c = await gitClient(h.root, ['clone', '-q', svc.base(agent), clone]);
    expect(c.code, c.err).toBe(0);
    fs.mkdirSync(path.join(clone, 'system'), { recursive: true });
    fs.writeFileSync(path.join(clone, 'system', 'human.md'), '---\ndescription: human\n---\nAda, mirrored over ssh\n');
    sh(clone, ['add', '-A']);
    sh(clone, ['commit', '-q', '-m', 'through serve']);
    const p = await gitClient(clone, ['push', '-q', 'origin', 'HEAD:main']);
    expect(p.code, p.err).toBe(0);
    const pushed = sh(clone, ['rev-parse', 'HEAD']);
    await until('the ssh host has the push', () => (host.head(name) === pushed ? true : undefined), 60_000, () => svc!.log().slice(-3000));
    await until('the mirror log line', () => (svc!.log().includes(`${agent}: mirrored main ${pushed.slice(0, 12)} to the external host`) ? true : undefined), 10_000);
    expect(svc.log()).not.toContain(TOKEN);
  }, 120_000);
});
