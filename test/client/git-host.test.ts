import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startGitHost, type GitHost } from '../fixtures/git-host.js';

// The fixture other suites build on: it must really authenticate, really serve git, and log what it received.
let host: GitHost;
let tmp: string;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('GIT_')) delete e[k];
  return {
    ...e,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.invalid',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.invalid',
    ...extra,
  };
}

/** The auth header through GIT_CONFIG_* env, so no secret is in argv even in this test. */
function authEnv(user: string, token: string): Record<string, string> {
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: ${basicAuth(user, token)}` };
}

beforeAll(async () => {
  host = await startGitHost({ user: 'alice', token: 'fixture-token-123' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'git-host-test-'));
});
afterAll(async () => {
  await host?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('git host fixture', () => {
  it('refuses git without credentials with a 401 challenge and logs the attempt', async () => {
    const url = await host.createRepo('noauth.git', { files: { 'a.md': 'x' } });
    host.clearRequests();
    const r = spawnSync('git', ['ls-remote', url], { env: env(), encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Authentication failed|could not read Username/);
    const reqs = host.requests;
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs[0]).toMatchObject({ method: 'GET', path: '/noauth.git/info/refs', query: 'service=git-upload-pack', status: 401 });
  });

  it('refuses a wrong token', async () => {
    const url = host.repoUrl('noauth.git');
    const r = spawnSync('git', ['ls-remote', url], { env: env(authEnv('alice', 'wrong')), encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });

  it('serves clone and receives push with the right credentials, logging headers', async () => {
    const url = await host.createRepo('agents/one.git', { files: { 'system/human.md': '---\ndescription: d\n---\nhi\n' } });
    host.clearRequests();
    const work = path.join(tmp, 'clone');
    execFileSync('git', ['clone', '-q', url, work], { env: env(authEnv('alice', 'fixture-token-123')) });
    expect(fs.readFileSync(path.join(work, 'system/human.md'), 'utf8')).toContain('hi');
    fs.writeFileSync(path.join(work, 'b.md'), 'new\n');
    execFileSync('git', ['-C', work, 'add', 'b.md'], { env: env() });
    execFileSync('git', ['-C', work, 'commit', '-q', '-m', 'b'], { env: env() });
    execFileSync('git', ['-C', work, 'push', '-q', 'origin', 'main'], { env: env(authEnv('alice', 'fixture-token-123')) });
    const head = execFileSync('git', ['-C', work, 'rev-parse', 'HEAD'], { env: env(), encoding: 'utf8' }).trim();
    expect(host.git('agents/one.git', ['rev-parse', 'refs/heads/main'])).toBe(head);
    const reqs = host.requests;
    expect(reqs.some((r) => r.method === 'POST' && r.path === '/agents/one.git/git-receive-pack' && r.status === 200)).toBe(true);
    expect(reqs.every((r) => r.headers.authorization === basicAuth('alice', 'fixture-token-123'))).toBe(true);
    expect(reqs.every((r) => typeof r.headers['user-agent'] === 'string')).toBe(true);
  });

  it('keeps repo names inside its root', async () => {
    await expect(host.createRepo('../escape.git')).rejects.toThrow(/escapes/);
  });
});
