// The Letta key never reaches the external host, however the remote is spelled (issue 7, class 6). git decides which
// `http.<url>.extraHeader` applies by its own URL normalisation (urlmatch.c), so each case asks git itself:
// `git config --get-urlmatch http.extraHeader <url git requests>`, with Letta Code's unscoped key on the command line,
// in a real checkout after `init`: in place (the auth include applies: our header) and moved (the include no longer
// applies: the empty guard). Spellings git cannot match are refused by init with the canonical spelling as the fix.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT, git, gitOk, initCheckout, lettaGit, LETTA_KEY, makeCheckout, requireBuild, sandbox, snapshot, type Sandbox } from '../client/env.js';
import { basicAuth, startGitHost, type GitHost } from '../fixtures/git-host.js';
import { tempDir } from '../helpers/repo.js';
import { expectOneLineFix } from './harness.js';

const USER = 'memfs-bot';
const TOKEN = 'guard-token-93c2';
const LETTA_HEADER = `Authorization: ${basicAuth('letta', LETTA_KEY)}`;
const OUR_HEADER = `Authorization: ${basicAuth(USER, TOKEN)}`;

const ws = tempDir('lmh-hostile-guard-');
let sb: Sandbox;
let n = 0;
beforeAll(() => {
  requireBuild();
  sb = sandbox(ws.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
});
afterAll(() => ws.cleanup());

/** The extraHeader git would send for `url` from `cwd`, with Letta Code's key given as it gives it. */
function effectiveHeader(cwd: string, url: string): string {
  const r = git(sb, cwd, ['-c', `http.extraHeader=${LETTA_HEADER}`, 'config', '--get-urlmatch', 'http.extraHeader', url]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.replace(/\n$/, '');
}

function freshCheckout(): string {
  return makeCheckout(sb, path.join(ws.dir, `c${n++}`, 'memory'));
}

describe('accepted spellings: the key is dropped, in place and after the checkout moved', () => {
  it.each([
    // IPv4 forms that WHATWG rewrites to 127.0.0.1 but git matches as written.
    'https://127.1/agents/{agentId}.git',
    'https://127.0.1/agents/{agentId}.git',
    'https://0x7f.0.0.1/agents/{agentId}.git',
    'https://0177.0.0.1/agents/{agentId}.git',
    'https://127.000.000.001/agents/{agentId}.git',
    'https://2130706433/agents/{agentId}.git',
    'https://0x7f000001/agents/{agentId}.git',
    'http://127.1:3000/agents/{agentId}.git',
    // IPv6 literals WHATWG compresses or lowercases.
    'https://[0:0::1]/agents/{agentId}.git',
    'https://[0:0:0:0:0:0:0:1]:8443/agents/{agentId}.git',
    'https://[::FFFF:127.0.0.1]/agents/{agentId}.git',
    'https://[0000::1]:8443/agents/{agentId}.git',
    // Spellings git and WHATWG normalise alike (regressions: these held before too).
    'https://[::FFFF:7F00:1]/agents/{agentId}.git',
    'https://Git.Example.COM/agents/{agentId}.git',
    'https://git.example.com./agents/{agentId}.git',
    'https://git.example.com:443/agents/{agentId}.git',
    'http://git.example.com:80/agents/{agentId}.git',
    'HTTPS://git.example.com/agents/{agentId}.git',
    'https://git.example.com:0443/agents/{agentId}.git',
    'https://GIT.EXAMPLE.COM:8443/agents/{agentId}.git',
    'https://[::1]/agents/{agentId}.git',
    'https://xn--bcher-kva.example/agents/{agentId}.git',
    'https://git.example.com/%61gents/{agentId}.git',
    'https://git.example.com/x/../agents/{agentId}.git',
  ])('%s', (remote) => {
    const checkout = freshCheckout();
    const r = initCheckout(sb, checkout, USER, remote, ['--no-verify']);
    expect(r.status, r.stderr).toBe(0);
    // The URL git requests: origin after insteadOf, as Letta Code's fetch, pull and push see it.
    const url = `${gitOk(sb, checkout, ['remote', 'get-url', 'origin'])}/info/refs`;
    expect(url).toBe(`${remote.replace('{agentId}', AGENT)}/info/refs`);
    expect(effectiveHeader(checkout, url)).toBe(OUR_HEADER);
    // Moved or renamed: includeIf.gitdir no longer matches, the guard in .git/config still holds.
    const moved = path.join(path.dirname(checkout), 'renamed');
    fs.renameSync(checkout, moved);
    expect(effectiveHeader(moved, url)).toBe('');
  });
});

describe('spellings git cannot match are refused, naming the canonical spelling', () => {
  it.each([
    ['IDN host', 'https://bücher.example/agents/{agentId}.git', /spell it https:\/\/xn--bcher-kva\.example\/agents\/\{agentId\}/],
    ['fullwidth letters', 'https://ＧＩＴ.example.com/agents/{agentId}.git', /spell it https:\/\/git\.example\.com\/agents\//],
    ['percent-escape in host', 'https://git.ex%61mple.com/agents/{agentId}.git', /spell it https:\/\/git\.example\.com\/agents\//],
    ['backslashes', 'https://git.example.com\\agents\\{agentId}.git', /spell it https:\/\/git\.example\.com\/agents\/\{agentId\}/],
    ['backslash before the path', 'https://git.example.com:8443\\agents/{agentId}.git', /spell it https:\/\/git\.example\.com:8443\/agents\//],
    ['space in the path', 'https://git.example.com/my agents/{agentId}.git', /spell it https:\/\/git\.example\.com\/my%20agents\//],
    ['underscore in host', 'https://git_host.example/agents/{agentId}.git', /write the host in ASCII letters/],
    ['wildcard host', 'https://*.example.com/agents/{agentId}.git', /write the host in ASCII letters/],
  ])('%s', (_n, remote, fix) => {
    const checkout = freshCheckout();
    const before = snapshot(path.join(checkout, '.git'));
    const r = initCheckout(sb, checkout, USER, remote as string, ['--no-verify']);
    expect(r.status, r.stderr).not.toBe(0);
    expectOneLineFix(r.stderr.replace(/^letta-memfs-hooks: /, ''));
    expect(r.stderr).toMatch(/cannot match http\.<url> settings/);
    expect(r.stderr).toMatch(fix as RegExp);
    expect(r.stderr).not.toMatch(/[\u200b\u0000-\u0008\u001b]/);
    expect(snapshot(path.join(checkout, '.git'))).toEqual(before);
  });
});

describe('a real fetch from a moved checkout', () => {
  let host: GitHost;
  beforeAll(async () => {
    host = await startGitHost({ user: USER, token: TOKEN });
  });
  afterAll(async () => host?.close());

  it('sends the host no Letta key when the remote is spelled 0x7f.0.0.1', async () => {
    const url = await host.createRepo(`g/${AGENT}.git`, { files: { 'system/human.md': '---\ndescription: d\n---\nx\n' } });
    const remote = url.replace('127.0.0.1', '0x7f.0.0.1').replace(AGENT, '{agentId}');
    const checkout = freshCheckout();
    const r = initCheckout(sb, checkout, USER, remote);
    expect(r.status, r.stderr).toBe(0);
    expect(lettaGit(sb, checkout, ['fetch', '-q', 'origin']).status).toBe(0);
    const moved = path.join(path.dirname(checkout), 'moved');
    fs.renameSync(checkout, moved);
    host.clearRequests();
    const f = lettaGit(sb, moved, ['fetch', '-q', 'origin']);
    expect(f.status).not.toBe(0);
    expect(host.requests.length).toBeGreaterThan(0);
    const keyB64 = basicAuth('letta', LETTA_KEY).split(' ')[1];
    expect(host.requests.filter((q) => JSON.stringify(q.headers).includes(keyB64))).toEqual([]);
  });
});
