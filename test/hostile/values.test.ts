// Class 3, a value breaks every repo: every value that reaches git config, a URL match, a header or a path is checked
// in one place (the config schema) on both roles, and a refused or failed command leaves nothing behind.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBuild } from '../client/env.js';
import { g } from '../fixtures/server-repo.js';
import { AGENT, clientInit, expectRefusedUnchanged, makeWorld, SERVER_AGENT, serverInit, TOKEN, type World } from './world.js';

requireBuild();

const tokenEnv = { LETTA_MEMFS_GIT_TOKEN: TOKEN };
const OK_REMOTE = 'https://git.example.com/agents/{agentId}.git';
const serverRemote = (w: World) => `${w.dir}/ext/{agentId}.git`;

// Remote templates git's config parser, its URL matching, ssh or a shell would treat specially.
const BAD_REMOTES: [string, string, RegExp][] = [
  ['a newline that starts a config section', 'https://h.example/a\n[core]\n\tsshCommand = touch /tmp/x\n/{agentId}.git', /contains a newline/],
  ['a carriage return', 'https://h.example/a\r/{agentId}.git', /contains a carriage return/],
  ['a tab', 'https://h.example/a\tb/{agentId}.git', /contains a tab/],
  ['an escape sequence', 'https://h.example/\u001b]0;pwned\u0007/{agentId}.git', /contains U\+001B/],
  ['a DEL', 'https://h.example/a\u007f/{agentId}.git', /contains U\+007F/],
  ['a right-to-left override', 'https://h.example/\u202etig.{agentId}', /contains U\+202E/],
  ['a line separator', 'https://h.example/a\u2028/{agentId}.git', /contains U\+2028/],
  ['a double quote', 'https://h.example/a"b/{agentId}.git', /is not a git URL we accept/],
  ['a backslash', 'https://h.example/a\\b/{agentId}.git', /is not a git URL we accept|cannot match http\.<url> settings/],
  ['brackets', 'https://h.example/[core]/{agentId}.git', /is not a git URL we accept/],
  ['an IPv6 literal with a zone id', 'https://[fe80::1%25eth0]:3000/{agentId}.git', /is not a git URL we accept|cannot match http\.<url> settings/],
  ['a space', 'https://h.example/a b/{agentId}.git', /is not a git URL we accept|cannot match http\.<url> settings/],
  ['a comment character', 'https://h.example/a;b#c/{agentId}.git', /is not a git URL we accept/],
  ['a query string', 'https://h.example/{agentId}.git?x=1', /is not a git URL we accept/],
  ['a urlmatch wildcard host', 'https://*.example.com/{agentId}.git', /is not a git URL we accept|cannot match http\.<url> settings/],
  ['an ssh host that is an option', 'ssh://-oProxyCommand=touch%20x/{agentId}.git', /is not a git URL we accept/],
  ['an scp user that is an option', '-oProxyCommand=x@h.example:{agentId}.git', /is not a git URL we accept/],
  ['a shell substitution', 'https://h.example/$(touch x)/{agentId}.git', /is not a git URL we accept|cannot match http\.<url> settings/],
  ['a backtick', 'https://h.example/`id`/{agentId}.git', /is not a git URL we accept/],
  ['a wrong placeholder', 'https://h.example/{agentID}.git', /is not a git URL we accept/],
  ['a broken percent escape', 'https://h.example/%zz/{agentId}.git', /is not a git URL we accept/],
  ['an ext:: transport', 'ext::sh -c touch% /tmp/pwned', /is not a git URL we accept/],
];

describe('class 3: remote templates, client init', () => {
  it.each(BAD_REMOTES)('%s', async (_name, remote, pattern) => {
    const w = await makeWorld();
    await expectRefusedUnchanged(w, clientInit(['--no-verify', `--remote=${remote}`]), 2, pattern, { env: tokenEnv });
  });

  it('a NUL byte (only a file can carry one) in .git/letta-memfs-hooks.json', async () => {
    const w = await makeWorld();
    fs.writeFileSync(path.join(w.checkout, '.git', 'letta-memfs-hooks.json'), JSON.stringify({ remote: 'https://h.example/a\u0000b/{agentId}.git' }));
    await expectRefusedUnchanged(w, clientInit(['--no-verify']), 2, /contains a NUL byte/, { env: tokenEnv });
  });

  it('a newline in LETTA_MEMFS_GIT_URL', async () => {
    const w = await makeWorld();
    await expectRefusedUnchanged(w, clientInit(['--no-verify']), 2, /environment: "remote" contains a newline/, { env: { ...tokenEnv, LETTA_MEMFS_GIT_URL: 'https://h.example/x\n[alias]\n/{agentId}.git' } });
  });
});

describe('class 3: remote templates, init --server (the included config of every repo.git)', () => {
  it.each(BAD_REMOTES.filter((_, i) => i % 2 === 0))('%s', async (_name, remote, pattern) => {
    const w = await makeWorld({ server: true });
    await expectRefusedUnchanged(w, serverInit(w, [`--remote=${remote}`]), 2, pattern, { cwd: w.dir });
  });

  it('a NUL byte in the memfs root config file', async () => {
    const w = await makeWorld({ server: true });
    fs.writeFileSync(path.join(w.memfs, '.letta-memfs-hooksrc.json'), JSON.stringify({ remote: `${w.dir}/ext/\u0000{agentId}.git` }));
    await expectRefusedUnchanged(w, serverInit(w, []), 2, /contains a NUL byte/, { cwd: w.dir });
  });
});

// Other values that reach git config, a header, a shell-quoted helper or a path: [flag, value, role, pattern].
const BAD_VALUES: [string, string, 'client' | 'server', RegExp][] = [
  ['--git-user', 'git:admin', 'client', /gitUsername may hold only/],
  ['--git-user', 'a b', 'server', /gitUsername may hold only/],
  ['--git-user', 'git\n[core]', 'server', /"gitUsername" contains a newline/],
  ['--git-user', '"x"', 'server', /gitUsername may hold only/],
  ['--letta-url', 'http://h.example:8283/"x', 'client', /lettaUrl must be an http\(s\) URL/],
  ['--letta-url', 'http://h.example:8283/\\x', 'client', /lettaUrl must be an http\(s\) URL/],
  ['--letta-url', 'http://h.example:8283/\u0001', 'client', /lettaUrl" contains U\+0001/],
  ['--letta-url', 'http://[::1]:8283', 'server', /lettaUrl must be an http\(s\) URL/],
  ['--letta-url', 'http://h.example:8283/#x', 'server', /lettaUrl must be an http\(s\) URL/],
  ['--poke-url', 'http://h.example:8284/"]\n[x', 'client', /pokeUrl" contains a newline/],
  ['--poke-url', 'http://h.example:8284/?a=b', 'client', /pokeUrl must be an http\(s\) URL/],
  ['--letta-user', 'user-1\r\nX-Evil: 1', 'server', /lettaUserId" contains a carriage return/],
  ['--letta-user', 'user 1', 'server', /lettaUserId must be a Letta user id/],
  ['--token-env', 'lower_case', 'client', /gitTokenEnv is not an environment variable name/],
  ['--token-env', 'A-B', 'server', /gitTokenEnv is not an environment variable name/],
  ['--token-env', 'X;touch /tmp/x', 'server', /gitTokenEnv is not an environment variable name/],
  ['--password-env', '$(id)', 'server', /lettaPasswordEnv is not an environment variable name/],
  ['--token-file', '/tmp/a\n[core]\n\tfsmonitor = touch /tmp/x', 'client', /gitTokenFile" contains a newline/],
  ['--token-file', '/tmp/a\nb', 'server', /gitTokenFile" contains a newline/],
  ['--memfs-root', '/tmp/memfs\n', 'server', /"memfsRoot" contains a newline/],
];

describe('class 3: other values, both roles', () => {
  it.each(BAD_VALUES)('%s %j (%s)', async (flag, value, role, pattern) => {
    const w = await makeWorld({ server: role === 'server' });
    if (role === 'client') {
      await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', OK_REMOTE, `${flag}=${value}`]), 2, pattern, { env: tokenEnv });
    } else {
      const args = flag === '--memfs-root' ? ['init', '--server', '--remote', serverRemote(w), `${flag}=${value}`] : serverInit(w, ['--remote', serverRemote(w), `${flag}=${value}`]);
      await expectRefusedUnchanged(w, args, 2, pattern, { cwd: w.dir });
    }
  });

  it.each([
    ['a path trick', `${AGENT}/../../etc`],
    ['a trailing newline', `${AGENT}\n`],
    ['upper-case hex', AGENT.toUpperCase().replace('AGENT', 'agent')],
    ['a Cyrillic a', AGENT.replace('a', '\u0430')],
    ['an empty id', ''],
  ])('client --agent with %s', async (_name, id) => {
    const w = await makeWorld();
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', OK_REMOTE, `--agent=${id}`]), 2, /invalid --agent: expected agent-<uuid>/, { env: tokenEnv });
  });

  it.each([
    ['a path trick', `../${SERVER_AGENT}`],
    ['an escape sequence', `${SERVER_AGENT}\u001b[2J`],
  ])('server --agent with %s', async (_name, id) => {
    const w = await makeWorld({ server: true });
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', serverRemote(w), `--agent=${id}`]), 2, /invalid --agent: expected agent-<uuid>/, { cwd: w.dir });
  });

  it('an "agents" list with a bad id in the user config', async () => {
    const w = await makeWorld();
    const dir = path.join(w.home, '.config', 'letta-memfs-hooks');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.yaml'), `agents:\n  - ${AGENT}\n  - "../../x"\n`);
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', OK_REMOTE]), 2, /invalid id in "agents"/, { env: tokenEnv });
  });
});

describe('class 3: a refused or failed command leaves nothing behind', () => {
  it('client init while git holds .git/config.lock: no config.orig, no state dir, config untouched', async () => {
    const w = await makeWorld();
    fs.writeFileSync(path.join(w.checkout, '.git', 'config.lock'), '');
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', OK_REMOTE]), 1, /config is locked by another git process .*\(fix: wait for it to finish/, { env: tokenEnv });
    expect(fs.existsSync(path.join(w.checkout, '.git', 'letta-memfs'))).toBe(false);
  });

  it('init --server while git holds repo.git/config.lock: no half-set-up repo', async () => {
    const w = await makeWorld({ server: true });
    fs.writeFileSync(path.join(w.serverGitDir, 'config.lock'), '');
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', serverRemote(w)]), 1, /config is locked by another git process/, { cwd: w.dir });
  });
});

describe('class 3: repairing a repo an older init broke', () => {
  // What init --server wrote before values were checked, for a remote with a newline: a raw newline in the quoted url.
  const BROKEN = '# Written by letta-memfs-hooks init --server (included from ../config); re-running init rewrites it.\n[remote "letta-memfs"]\n\turl = "/x\n[core]\n"\n\tfetch = +refs/heads/main:refs/remotes/letta-memfs/main\n[gc]\n\tauto = 0\n';

  async function brokenServer(): Promise<{ w: World; configBefore: string }> {
    const w = await makeWorld({ server: true });
    const configBefore = fs.readFileSync(path.join(w.serverGitDir, 'config'), 'utf8');
    const r = await w.run(serverInit(w, ['--remote', serverRemote(w)]), { cwd: w.dir });
    expect(r.code, r.err).toBe(0);
    fs.writeFileSync(path.join(w.serverGitDir, 'letta-memfs', 'config'), BROKEN);
    // Every git call on the repo fails now, as it did for the Letta server.
    await expect(g(w.dir, [`--git-dir=${w.serverGitDir}`, 'rev-parse', 'HEAD'])).rejects.toThrow(/bad config line/);
    return { w, configBefore };
  }

  it('uninstall --server restores the repo.git config and removes the broken include (init --server rewrites it too)', async () => {
    const { w, configBefore } = await brokenServer();
    const again = await w.run(serverInit(w, ['--remote', serverRemote(w)]), { cwd: w.dir });
    expect(again.code, again.err).toBe(0);
    expect(await g(w.dir, [`--git-dir=${w.serverGitDir}`, 'config', 'remote.letta-memfs.url'])).toBe(`${w.dir}/ext/${SERVER_AGENT}.git`);
    fs.writeFileSync(path.join(w.serverGitDir, 'letta-memfs', 'config'), BROKEN);
    const r = await w.run(['uninstall', '--server', '--memfs-root', w.memfs, '--agent', SERVER_AGENT], { cwd: w.dir });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(fs.readFileSync(path.join(w.serverGitDir, 'config'), 'utf8')).toBe(configBefore);
    expect(fs.existsSync(path.join(w.serverGitDir, 'letta-memfs'))).toBe(false);
    expect(await g(w.dir, [`--git-dir=${w.serverGitDir}`, 'rev-parse', 'HEAD'])).toMatch(/^[0-9a-f]{40}$/);
  });
});
