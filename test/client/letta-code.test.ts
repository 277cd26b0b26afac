import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLettaCode, type LettaCode } from '../fixtures/letta-code.js';
import { AGENT, cli, clientSuite, commitAll, gitOk, initCheckout, LETTA_BASE, lettaGit, lettaUrl, makeCheckout, md, sandbox, writeFile } from './env.js';

// Real Letta Code releases from npm run their own memfs pull code (origin repair, credential helper, hook rewrite,
// pull --ff-only / --rebase) against an initialised checkout; no LLM or Letta server needed (facts file, section 2).
const USER = 'memfs-bot';
const TOKEN = 'lc-token-3e8f';
const LETTA_API_KEY = 'sk-let-REAL-CLIENT-KEY-4242';

const RELEASES: { version: string; pull: string[] }[] = [
  { version: '0.19.5', pull: ['memfs', 'pull'] },
  { version: '0.32.18', pull: ['memory', 'pull'] },
];

const suite = clientSuite(USER, TOKEN);
const clients = new Map<string, LettaCode>();

beforeAll(() => {
  // Installs from npm into the cache on first run (about a minute); throws if it cannot: no silent skip.
  for (const r of RELEASES) clients.set(r.version, ensureLettaCode(r.version));
}, 900_000);

describe.each(RELEASES)('Letta Code $version', ({ version, pull }) => {
  it('pulls from the external host through its own pull command, and leaves the redirect in place', async () => {
    const lc = clients.get(version)!;
    const t = { dir: suite.workspace('lmh-lc-') };
    const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const name = `lc/${version}/${Math.random().toString(36).slice(2)}/${AGENT}.git`;
    const url = await suite.host.createRepo(name, { files: { 'system/human.md': md('About the human', 'Name: Ada\n') } });
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'));
    const init = initCheckout(sb, checkout, USER, url.replace(AGENT, '{agentId}'));
    expect(init.status, init.stderr).toBe(0);
    suite.host.clearRequests();

    const env = { ...sb.env, LETTA_API_KEY, LETTA_BASE_URL: LETTA_BASE, LETTA_MEMFS_BASE_URL: LETTA_BASE };
    const run = spawnSync(process.execPath, [lc.entry, ...pull, '--agent', AGENT], { cwd: sb.home, env, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { updated: boolean; summary: string };
    expect(out.updated, out.summary).toBe(true);
    expect(fs.readFileSync(path.join(checkout, 'system', 'human.md'), 'utf8')).toContain('Name: Ada');
    expect(gitOk(sb, checkout, ['rev-parse', 'HEAD'])).toBe(suite.host.git(name, ['rev-parse', 'refs/heads/main']));

    // The client's git calls reached the external host only with our credentials, never with its API key.
    const reqs = suite.host.requests;
    expect(reqs.some((q) => q.path.endsWith('/git-upload-pack') && q.status === 200)).toBe(true);
    const b64 = Buffer.from(`letta:${LETTA_API_KEY}`).toString('base64');
    for (const q of reqs) {
      expect(JSON.stringify(q.headers)).not.toContain(b64);
      expect(JSON.stringify(q.headers)).not.toContain(LETTA_API_KEY);
    }

    // Its origin repair and hook rewrite left our redirect and hooks as they were.
    expect(gitOk(sb, checkout, ['config', 'remote.origin.url'])).toBe(lettaUrl());
    expect(gitOk(sb, checkout, ['remote', 'get-url', '--push', 'origin'])).toBe(url);
    const st = cli(sb, ['status', '--json'], { cwd: checkout });
    expect(st.status, st.stdout).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s.redirected).toBe(true);
    expect(s.hooks.every((h: { state: string }) => h.state === 'installed')).toBe(true);
    expect(s.auth.token).toBe('current');

    // Push as the client does, with the frontmatter pre-commit hook it just wrote checking the commit first.
    expect(fs.readFileSync(path.join(checkout, '.git', 'hooks', 'pre-commit'), 'utf8')).toContain('Validate frontmatter');
    writeFile(checkout, 'system/persona.md', md('Who I am', 'Curious.\n'));
    const head = commitAll(sb, checkout, 'persona');
    const push = lettaGit(sb, checkout, ['push', '-u', 'origin', 'main'], LETTA_API_KEY);
    expect(push.status, push.stderr).toBe(0);
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(head);
    for (const q of suite.host.requests) expect(JSON.stringify(q.headers)).not.toContain(b64);

    // A second pull through the client after someone else's push: --ff-only path, still from the external suite.host.
    const other = path.join(t.dir, 'other');
    const auth = `http.extraHeader=Authorization: Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
    gitOk(sb, t.dir, ['-c', auth, 'clone', '-q', url, other]);
    writeFile(other, 'reference/notes.md', md('Notes', 'n\n'));
    const theirs = commitAll(sb, other, 'notes');
    gitOk(sb, other, ['-c', auth, 'push', '-q', 'origin', 'main']);
    const again = spawnSync(process.execPath, [lc.entry, ...pull, '--agent', AGENT], { cwd: sb.home, env, encoding: 'utf8', timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(gitOk(sb, checkout, ['rev-parse', 'HEAD'])).toBe(theirs);
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(url);
  }, 180_000);
});

describe('Letta Code 0.32.18 without LETTA_MEMFS_BASE_URL', () => {
  it('re-creates a missing origin as the Letta Cloud URL, which init redirected too', async () => {
    const lc = clients.get('0.32.18')!;
    const t = { dir: suite.workspace('lmh-lc-cloud-') };
    const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const url = await suite.host.createRepo(`lc/cloud/${Math.random().toString(36).slice(2)}/${AGENT}.git`, { files: { 'system/human.md': md('h', 'From the host\n') } });
    const checkout = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'));
    expect(initCheckout(sb, checkout, USER, url.replace(AGENT, '{agentId}')).status).toBe(0);
    gitOk(sb, checkout, ['remote', 'remove', 'origin']);
    gitOk(sb, checkout, ['config', 'branch.main.remote', 'origin']);
    gitOk(sb, checkout, ['config', 'branch.main.merge', 'refs/heads/main']);
    const env = { ...sb.env, LETTA_API_KEY, LETTA_BASE_URL: LETTA_BASE };
    const run = spawnSync(process.execPath, [lc.entry, 'memory', 'pull', '--agent', AGENT], { cwd: sb.home, env, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(gitOk(sb, checkout, ['config', 'remote.origin.url'])).toBe(`https://api.letta.com/v1/git/${AGENT}/state.git`);
    expect(fs.readFileSync(path.join(checkout, 'system', 'human.md'), 'utf8')).toContain('From the host');
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(url);
  }, 180_000);
});
