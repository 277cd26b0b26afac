// Class 4 of issue 17, secrets across redirects: in every role, the external host's token reaches only the remote's
// host. The remote (host A, a real git http-backend on 127.0.0.1) answers 302 to host B, which logs every header it
// is sent: B either asks for credentials (401, as a host would: git then asks its credential helpers for B) or
// serves anonymously (git then moves the operation's later requests to B, with whatever headers it had).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, gitOk, lettaGit, LETTA_KEY, md, requireBuild, sandbox, secretForms } from '../client/env.js';
import { lcInitialize } from '../fixtures/letta-code-local.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { tempDir } from '../helpers/repo.js';
import { AGENT, clientInit, makeWorld, SERVER_AGENT, serverInit, TOKEN } from './world.js';

requireBuild();

const USER = 'git';
const LOCAL = 'agent-local-6f1c2b7e-3d4a-4b5c-9d8e-0a1b2c3d4e5f';
const SEED = { 'system/human.md': md('About the human', 'Ada\n') };

const hosts: GitHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

type When = 'always' | 'after-auth';
const CASES: [When, boolean][] = [
  ['always', false],
  ['always', true],
  ['after-auth', false],
  ['after-auth', true],
];

/**
 * Host A holding `name` (seeded), reachable at a fixed URL: first plain (so init can set up against it), then
 * `redirect()` brings it back on the same port answering 302 to host B (which holds the same repo name).
 */
async function redirectingPair(name: string, anonymousB: boolean) {
  const b = await startGitHost({ user: USER, token: 'not-the-token-0000', anonymous: anonymousB });
  hosts.push(b);
  await b.createRepo(name, { files: SEED });
  const root = tempDir('lmh-redirect-a-');
  let a = await startGitHost({ user: USER, token: TOKEN, root: root.dir });
  await a.createRepo(name, { files: SEED });
  const url = a.repoUrl(name);
  const port = Number(new URL(a.url).port);
  return {
    b,
    url,
    async redirect(when: When) {
      await a.close();
      a = await startGitHost({ user: USER, token: TOKEN, root: root.dir, port, redirect: { to: b.url, when } });
      hosts.push(a);
      hosts.push({ close: async () => root.cleanup() } as GitHost);
    },
    /** What host B was sent that carries our token (or Letta's key), header by header. */
    leaked(): string[] {
      const forms = [...secretForms(USER, TOKEN), ...secretForms('letta', LETTA_KEY)];
      return b.requests.flatMap((r) => r.rawHeaders.filter((h) => forms.some((f) => h.includes(f))).map((h) => `${r.method} ${r.path}: ${h.slice(0, 20)}...`));
    },
  };
}

describe('class 4: no role sends the host token to the host a redirect names', () => {
  it.each(CASES)('server role (pull, as watch and serve mirror): redirect %s, host B anonymous=%s', async (when, anonymous) => {
    const w = await makeWorld({ server: true, env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });
    const p = await redirectingPair(`agents/${SERVER_AGENT}.git`, anonymous);
    const init = await w.run(serverInit(w, ['--remote', p.url.replace(SERVER_AGENT, '{agentId}'), '--git-user', USER]), { cwd: w.dir });
    expect(init.code, init.err).toBe(0);
    await p.redirect(when);
    const r = await w.run(['pull', '--agent', SERVER_AGENT, '--memfs-root', w.memfs], { cwd: w.dir });
    expect(p.leaked()).toEqual([]);
    // Refused, saying why: git's own "returned error: 302" or the credentials B asked for and did not get.
    expect(r.code, r.out + r.err).not.toBe(0);
  });

  it.each(CASES)('client role (Letta Code fetching the redirected origin): redirect %s, host B anonymous=%s', async (when, anonymous) => {
    const w = await makeWorld({ env: { LETTA_MEMFS_GIT_TOKEN: TOKEN } });
    const p = await redirectingPair(`agents/${AGENT}.git`, anonymous);
    const init = await w.run(clientInit(['--no-verify', '--git-user', USER, '--remote', p.url.replace(AGENT, '{agentId}')]));
    expect(init.code, init.err).toBe(0);
    await p.redirect(when);
    const r = lettaGit(w.sb, w.checkout, ['fetch', 'origin']);
    expect(p.leaked()).toEqual([]);
    expect(r.status, r.stderr).not.toBe(0);
  });

  it.each(CASES)('local backend (pull): redirect %s, host B anonymous=%s', async (when, anonymous) => {
    const t = tempDir('lmh-redirect-local-');
    const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    hosts.push({ close: async () => t.cleanup() } as GitHost);
    const dir = path.join(sb.home, '.letta', 'lc-local-backend', 'memfs', LOCAL, 'memory');
    lcInitialize(sb, dir, LOCAL, SEED);
    const p = await redirectingPair(`local/${LOCAL}.git`, anonymous);
    const init = cli(sb, ['init', '--yes', '--git-user', USER, '--remote', p.url], { cwd: dir });
    expect(init.status, init.stderr).toBe(0);
    await p.redirect(when);
    // The commit's background push (reference-transaction hook) meets the redirect too: wait for its log line.
    const pushLog = path.join(dir, '.git', 'letta-memfs', 'push.log');
    const logged = () => (fs.existsSync(pushLog) ? fs.readFileSync(pushLog, 'utf8').length : 0);
    const before = logged();
    gitOk(sb, dir, ['commit', '-q', '--allow-empty', '-m', 'local edit']);
    const r = cli(sb, ['pull'], { cwd: dir });
    const end = Date.now() + 20_000;
    while (logged() === before && Date.now() < end) await new Promise((res) => setTimeout(res, 100));
    expect(logged()).toBeGreaterThan(before);
    expect(p.leaked()).toEqual([]);
    expect(r.status, r.stdout + r.stderr).not.toBe(0);
    expect(fs.existsSync(dir)).toBe(true);
  });
});
