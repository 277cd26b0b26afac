// Class 7, secrets in the wrong place: credentials in URLs are refused with the fix, a token given to the wrong option
// or a wrong-type setting is never echoed, `~/` token files mean the same file on both roles, and a kill -9 during
// init's verification leaves no file with the token behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalGitEnv } from '../../src/git/remote-auth.js';
import { CLI, requireBuild, secretForms } from '../client/env.js';
import { startGitHost, type GitHost } from '../fixtures/git-host.js';
import { g } from '../fixtures/server-repo.js';
import { expectNoSecret, filesWithSecret } from './harness.js';
import { AGENT, clientInit, expectRefusedUnchanged, makeWorld, SERVER_AGENT, serverInit, TOKEN, type World } from './world.js';

requireBuild();

const T = TOKEN;
const OK_REMOTE = 'https://git.example.com/agents/{agentId}.git';
const CRED_FIX = /carries credentials.*\(fix: remove them from the URL and export the token in LETTA_MEMFS_GIT_TOKEN .*--token-file/;

const CRED_URLS: [string, string][] = [
  ['https user:token@', `https://git:${T}@h.example/agents/{agentId}.git`],
  ['https token@', `https://${T}@h.example/agents/{agentId}.git`],
  ['http user:token@', `http://git:${T}@h.example/agents/{agentId}.git`],
  ['upper-case scheme', `HTTPS://git:${T}@h.example/agents/{agentId}.git`],
  ['ssh:// user:token@', `ssh://git:${T}@h.example/agents/{agentId}.git`],
  ['scp-like user:token@', `git:${T}@h.example:agents/{agentId}.git`],
  ['a percent-encoded @ in the password', `https://git:${T}%40x@h.example/agents/{agentId}.git`],
  ['a port after the credentials', `https://git:${T}@h.example:8443/agents/{agentId}.git`],
];

describe('class 7: credentials inside URLs are refused with the fix, never echoed', () => {
  it.each(CRED_URLS)('client --remote with %s', async (_name, url) => {
    const w = await makeWorld();
    await expectRefusedUnchanged(w, clientInit(['--no-verify', `--remote=${url}`]), 2, CRED_FIX, { secret: T, secretInArgv: true });
  });

  it.each(CRED_URLS.filter((_, i) => [0, 4, 5].includes(i)))('init --server --remote with %s', async (_name, url) => {
    const w = await makeWorld({ server: true });
    await expectRefusedUnchanged(w, serverInit(w, [`--remote=${url}`]), 2, CRED_FIX, { cwd: w.dir, secret: T, secretInArgv: true });
  });

  it('LETTA_MEMFS_GIT_URL with credentials', async () => {
    const w = await makeWorld();
    await expectRefusedUnchanged(w, clientInit(['--no-verify']), 2, CRED_FIX, { env: { LETTA_MEMFS_GIT_URL: CRED_URLS[4][1] }, secret: T });
  });

  it('a remote with credentials in the per-checkout config file', async () => {
    const w = await makeWorld();
    fs.writeFileSync(path.join(w.checkout, '.git', 'letta-memfs-hooks.yaml'), `remote: "${CRED_URLS[5][1]}"\n`, { mode: 0o600 });
    const r = await expectRefusedUnchanged(w, clientInit(['--no-verify']), 2, CRED_FIX);
    expectNoSecret(T, r, [w.dir], [path.join(w.checkout, '.git', 'letta-memfs-hooks.yaml')]);
  });

  it.each([
    ['client', '--letta-url', `http://letta:${T}@h.example:8283`, /lettaUrl carries credentials/],
    ['client', '--poke-url', `http://poke:${T}@h.example:8284`, /pokeUrl carries credentials/],
    ['server', '--letta-url', `http://${T}@h.example:8283`, /lettaUrl carries credentials/],
  ])('%s %s with credentials', async (role, flag, url, pattern) => {
    const w = await makeWorld({ server: role === 'server' });
    const args = role === 'server' ? serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`, `${flag}=${url}`]) : clientInit(['--no-verify', '--remote', OK_REMOTE, `${flag}=${url}`]);
    await expectRefusedUnchanged(w, args, 2, pattern, { cwd: role === 'server' ? w.dir : undefined, secret: T, secretInArgv: true });
  });
});

describe('class 7: a token given to the wrong option is never echoed', () => {
  // [role, args, pattern, token also exported as LETTA_MEMFS_GIT_TOKEN?]
  const CASES: [string, 'client' | 'server', string[], RegExp, boolean][] = [
    ['--token-env <token>', 'client', ['--remote', OK_REMOTE, `--token-env=${T}`], /gitTokenEnv is not an environment variable name \(the value is not shown/, false],
    ['--token-env <token>, token exported too', 'client', ['--remote', OK_REMOTE, `--token-env=${T}`], /gitTokenEnv is not an environment variable name/, true],
    ['--token-env <token>', 'server', [`--token-env=${T}`], /gitTokenEnv is not an environment variable name/, false],
    ['--password-env <token>', 'server', [`--password-env=${T}`], /lettaPasswordEnv is not an environment variable name/, false],
    ['--remote <token>', 'client', [`--remote=${T}`], /the remote is not a git URL we accept/, false],
    ['--remote <token>', 'server', [`--remote=${T}`], /the remote is not a git URL we accept/, false],
    ['--letta-url <token>', 'client', ['--remote', OK_REMOTE, `--letta-url=${T}`], /lettaUrl must be an http\(s\) URL/, false],
    ['--poke-url <token>', 'client', ['--remote', OK_REMOTE, `--poke-url=${T}`], /pokeUrl must be an http\(s\) URL/, false],
    ['--agent <token>', 'client', ['--remote', OK_REMOTE, `--agent=${T}`], /invalid --agent: expected agent-<uuid>/, false],
    ['--agent <token>', 'server', [`--agent=${T}`], /invalid --agent: expected agent-<uuid>/, false],
    ['--token-file <token>', 'client', ['--remote', OK_REMOTE, `--token-file=${T}`], /the token file named by gitTokenFile \(--token-file\) does not exist/, false],
    ['--memfs-root <token>, token exported', 'server', [`--memfs-root=${T}`], /repository does not exist/, true],
  ];
  it.each(CASES)('%s (%s)', async (_name, role, extra, pattern, exported) => {
    const w = await makeWorld({ server: role === 'server' });
    const env = { LETTA_MEMFS_GIT_TOKEN: exported ? T : undefined };
    const code = /does not exist/.test(pattern.source) ? 1 : 2;
    if (role === 'client') {
      const args = clientInit(['--no-verify', ...extra]);
      await expectRefusedUnchanged(w, args, code, pattern, { env, secret: T, secretInArgv: true });
    } else {
      const args = extra[0].startsWith('--memfs-root') ? ['init', '--server', '--remote', `${w.dir}/ext/{agentId}.git`, ...extra] : serverInit(w, [...(extra[0].startsWith('--remote') ? [] : ['--remote', `${w.dir}/ext/{agentId}.git`]), ...extra]);
      await expectRefusedUnchanged(w, args, code, pattern, { cwd: w.dir, env, secret: T, secretInArgv: true });
    }
  });
});

describe('class 7: wrong-type and misplaced settings never print their value', () => {
  const FILES: [string, Record<string, unknown>, RegExp][] = [
    ['gitTokenEnv as a list', { gitTokenEnv: [T] }, /"gitTokenEnv" must be a string, got a list/],
    ['gitTokenEnv holding the token', { gitTokenEnv: T }, /gitTokenEnv is not an environment variable name/],
    ['gitTokenFile as an object', { gitTokenFile: { path: T } }, /"gitTokenFile" must be a string, got an object/],
    ['webhookSecretEnv as a list', { webhookSecretEnv: [T] }, /"webhookSecretEnv" must be a string, got a list/],
    ['lettaPasswordEnv as an object', { lettaPasswordEnv: { v: T } }, /"lettaPasswordEnv" must be a string, got an object/],
    ['remote as a list', { remote: [`https://git:${T}@h.example/x.git`] }, /"remote" must be a string, got a list/],
    ['gitUsername as a list', { gitUsername: [T] }, /"gitUsername" must be a string, got a list/],
    ['the token as a key', { [T]: 1 }, /unknown key a key \(not shown\)/],
    ['a gitToken key', { gitToken: T }, /unknown key "gitToken" \(fix: secrets do not go in config files/],
  ];
  it.each(FILES)('user config with %s', async (_name, content, pattern) => {
    const w = await makeWorld();
    const dir = path.join(w.home, '.config', 'letta-memfs-hooks');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(content), { mode: 0o600 }); // planted by the test: the one allowed place
    const r = await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', OK_REMOTE]), 2, pattern);
    expectNoSecret(T, r, [w.dir], [file]);
  });

  it('memfs root config with gitTokenFile as a list (init --server)', async () => {
    const w = await makeWorld({ server: true });
    const file = path.join(w.memfs, '.letta-memfs-hooksrc.json');
    fs.writeFileSync(file, JSON.stringify({ gitTokenFile: [T] }), { mode: 0o600 });
    const r = await expectRefusedUnchanged(w, serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`]), 2, /"gitTokenFile" must be a string, got a list/, { cwd: w.dir });
    expectNoSecret(T, r, [w.dir], [file]);
  });
});

describe('class 7: ~ in --token-file means the same file on both roles', () => {
  let host: GitHost;
  beforeAll(async () => {
    host = await startGitHost({ user: 'git', token: T });
    await host.createRepo(`agents/${AGENT}.git`, { files: { 'system/human.md': '---\ndescription: d\n---\nx\n' } });
    await host.createRepo(`agents/${SERVER_AGENT}.git`, { files: { 'system/human.md': '---\ndescription: d\n---\nx\n' } });
  });
  afterAll(async () => host?.close());

  function tokenFile(w: World): string {
    const file = path.join(w.home, 'tok');
    fs.writeFileSync(file, T + '\n', { mode: 0o600 });
    return file;
  }

  it('client: ~/tok is read, verified against the host, and recorded as an absolute path', async () => {
    const w = await makeWorld();
    const file = tokenFile(w);
    const r = await w.run(clientInit(['--remote', `${host.url}/agents/{agentId}.git`, '--token-file', '~/tok']));
    expect(r.code, r.err).toBe(0);
    const settings = JSON.parse(fs.readFileSync(path.join(w.checkout, '.git', 'letta-memfs', 'settings.json'), 'utf8'));
    expect(settings.config.gitTokenFile).toBe(file);
    const auth = path.join(w.checkout, '.git', 'letta-memfs', 'http-auth.gitconfig');
    for (const s of secretForms('git', T)) expectNoSecret(s, r, [w.dir], [file, auth]);
  });

  it('server: ~/tok is stored absolute, so the credential helper reads it and fetches work', async () => {
    const w = await makeWorld({ server: true });
    const file = tokenFile(w);
    const r = await w.run(serverInit(w, ['--remote', `${host.url}/agents/{agentId}.git`, '--token-file', '~/tok']), { cwd: w.dir });
    expect(r.code, r.err).toBe(0);
    const saved = JSON.parse(fs.readFileSync(path.join(w.memfs, '.letta-memfs-hooksrc.json'), 'utf8'));
    expect(saved.gitTokenFile).toBe(file);
    const settings = JSON.parse(fs.readFileSync(path.join(w.serverGitDir, 'letta-memfs', 'settings.json'), 'utf8'));
    expect(settings.config.gitTokenFile).toBe(file);
    // The token is read from the stored path (no token in the caller's environment) and offered to the remote's URL.
    const env = { ...w.sb.env, ...externalGitEnv(settings.config, settings.remote, {}) };
    expect(await g(w.dir, [`--git-dir=${w.serverGitDir}`, 'ls-remote', 'letta-memfs', 'main'], { env })).toMatch(/refs\/heads\/main/);
    for (const s of secretForms('git', T)) expectNoSecret(s, r, [w.dir], [file]);
  });

  it('server: a relative --token-file is stored absolute (relative to where init ran)', async () => {
    const w = await makeWorld({ server: true });
    fs.writeFileSync(path.join(w.dir, 'tok'), T, { mode: 0o600 });
    const r = await w.run(serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`, '--token-file', 'tok']), { cwd: w.dir });
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(w.memfs, '.letta-memfs-hooksrc.json'), 'utf8')).gitTokenFile).toBe(path.join(w.dir, 'tok'));
  });

  it.each(['client', 'server'] as const)('%s: ~otheruser/tok is refused, not half-expanded', async (role) => {
    const w = await makeWorld({ server: role === 'server' });
    const args = role === 'server' ? serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`, '--token-file', '~root/tok']) : clientInit(['--no-verify', '--remote', OK_REMOTE, '--token-file', '~root/tok']);
    await expectRefusedUnchanged(w, args, 2, /gitTokenFile uses ~user, which is not expanded \(fix: give gitTokenFile as an absolute path or ~\/\.\.\.\)/, { cwd: role === 'server' ? w.dir : undefined });
  });
});

describe('class 7: kill -9 during init verification', () => {
  it('leaves no file holding the token or its header, anywhere in HOME, TMPDIR or the checkout', async () => {
    // A host that accepts the connection and never answers: init sits in `git ls-remote` until we kill it.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const w = await makeWorld();
      const before = w.snapshot();
      const child = spawn(process.execPath, [CLI, ...clientInit(['--remote', `http://127.0.0.1:${port}/agents/{agentId}.git`])], {
        cwd: w.checkout,
        env: { ...w.sb.env, LETTA_MEMFS_GIT_TOKEN: T },
        stdio: 'ignore',
      });
      const deadline = Date.now() + 20_000;
      while (sockets.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(sockets.length, 'git never connected').toBeGreaterThan(0);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      for (const s of sockets) s.destroy(); // the orphaned git ls-remote ends on the closed connection
      for (const s of secretForms('git', T)) expect(filesWithSecret([w.dir], s)).toEqual([]);
      expect(fs.readdirSync(w.tmp)).toEqual([]);
      expect(w.snapshot()).toEqual(before);
    } finally {
      server.close();
    }
  });
});
