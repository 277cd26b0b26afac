import { describe, expect, it } from 'vitest';
import { hostRepoTarget } from '../../src/core/host-repo/target.js';
import { alreadyExists, apiError, SCOPE_FIX } from '../../src/core/host-repo/errors.js';
import { looksMissing, missingRepoError } from '../../src/core/host-repo/missing.js';
import { UserError } from '../../src/core/errors.js';

const A = 'agent-123e4567-e89b-42d3-a456-426614174000';
const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => ({ status, json, header: (n: string) => headers[n] });

describe('hostRepoTarget: the API base and repo from the remote URL', () => {
  it.each([
    ['github', `https://github.com/acme/${A}.git`, 'https://api.github.com', 'acme'],
    ['github', `git@github.com:acme/${A}.git`, 'https://api.github.com', 'acme'],
    ['github', `https://ghe.example.com/acme/${A}.git`, 'https://ghe.example.com/api/v3', 'acme'],
    ['gitea', `https://git.example.com:3000/acme/${A}.git`, 'https://git.example.com:3000/api/v1', 'acme'],
    ['gitea', `https://example.com/gitea/acme/${A}.git`, 'https://example.com/gitea/api/v1', 'acme'],
    ['gitea', `ssh://git@codeberg.org:2222/acme/${A}.git`, 'https://codeberg.org/api/v1', 'acme'],
    ['gitlab', `https://gitlab.com/acme/memory/${A}.git`, 'https://gitlab.com/api/v4', 'acme/memory'],
    ['gitlab', `git@gitlab.example.com:acme/${A}`, 'https://gitlab.example.com/api/v4', 'acme'],
  ] as const)('%s %s', (kind, url, api, owner) => {
    expect(hostRepoTarget(url, kind)).toEqual({ kind, api, owner, name: A, fullName: `${owner}/${A}` });
  });

  it('takes hostApiUrl as given, and refuses what it cannot map', () => {
    expect(hostRepoTarget(`https://git.example.com/acme/${A}.git`, 'github', 'https://api.example.com/v3/').api).toBe('https://api.example.com/v3');
    expect(() => hostRepoTarget(`/srv/git/${A}.git`, 'github')).toThrow(/needs a remote on a git host/);
    expect(() => hostRepoTarget(`https://github.com/${A}.git`, 'github')).toThrow(/names no owner/);
    expect(() => hostRepoTarget(`https://github.com/x/acme/${A}.git`, 'github')).toThrow(/which GitHub uses/);
  });
});

describe('errors: one line, with the token scope each host needs', () => {
  const t = hostRepoTarget(`https://github.com/acme/${A}.git`, 'github');
  it('names the scope for a refused create, per host', () => {
    const e = apiError(t, answer(403, { message: 'Resource not accessible by personal access token' }), 'create', '$LETTA_MEMFS_GIT_TOKEN');
    expect(e.message).toBe(`the token from $LETTA_MEMFS_GIT_TOKEN may not create acme/${A} on GitHub (HTTP 403: Resource not accessible by personal access token)`);
    expect(e.fix).toMatch(/"repo" scope.*Administration: Read and write/);
    expect(SCOPE_FIX.gitea).toMatch(/write:repository.*write:organization/);
    expect(SCOPE_FIX.gitlab).toMatch(/api scope/);
  });
  it('tells a rate limit from a refusal, with when to retry', () => {
    const gh = apiError(t, answer(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1893456000' }), 'read', '$T');
    expect(gh.message).toBe(`GitHub API rate limit reached trying to read acme/${A}`);
    expect(gh.fix).toMatch(/after 2030-01-01T00:00:00.000Z/);
    expect(apiError(t, answer(429, {}, { 'retry-after': '42' }), 'read', '$T').fix).toMatch(/in 42 s/);
  });
  it('never follows or trusts a redirect, and strips control characters from the host message', () => {
    expect(apiError(t, answer(302, {}), 'read', '$T').message).toMatch(/redirect, not followed/);
    expect(apiError(t, answer(500, { message: 'bad\u001b[31m\nthing' }), 'read', '$T').message).not.toMatch(/[\u001b\n]/);
  });
  it('knows each host\'s "already exists" (a create racing another machine is success)', () => {
    expect(alreadyExists('github', answer(422, { errors: [{ message: 'name already exists on this account' }] }))).toBe(true);
    expect(alreadyExists('github', answer(422, { message: 'Validation Failed' }))).toBe(false);
    expect(alreadyExists('gitea', answer(409, {}))).toBe(true);
    expect(alreadyExists('gitlab', answer(400, { message: { path: ['has already been taken'] } }))).toBe(true);
  });
});

describe('a missing repo with creation off', () => {
  it('is told from other failures, and its error names the repo and the command that creates it', () => {
    expect(looksMissing("fatal: repository 'https://github.com/acme/x.git/' not found")).toBe(true);
    expect(looksMissing('ERROR: Repository not found.')).toBe(true);
    expect(looksMissing('remote: The project you were looking for could not be found or you don\'t have permission to view it.')).toBe(true);
    expect(looksMissing('fatal: unable to access: Could not resolve host: github.com')).toBe(false);
    const e = missingRepoError(`https://github.com/acme/${A}.git`, 'server');
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe(`the repo https://github.com/acme/${A}.git does not exist on the host (or the token cannot see it)`);
    expect(e.fix).toMatch(/init --server --create-repos github\|gitea\|gitlab$/);
  });
});
