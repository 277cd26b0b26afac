// Tenant isolation through an UNPATCHED Letta's /v1/git/ proxy (letta/server/rest_api/routers/v1/git_http.py,
// identical in 0.16.7 and 0.16.8): `proxy_git_http` checks the actor's access and overwrites X-Organization-Id only
// when the path's second segment is `state.git` (`_parse_agent_id_from_repo_path`); any other path is forwarded with
// the client's own headers, and httpx then removes the dot segments Starlette decoded from `%2e%2e`. So
// `/v1/git/x/y/%2e%2e/%2e%2e/<agent>/state.git` reaches `serve` as `<agent>/state.git` with a forged org header.
// Two orgs, a user in each, one Letta start: every forgery is refused, the legitimate user works.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CliProcess } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { startServe } from './helpers/serve.js';
import { freePort, LettaServer } from './helpers/server.js';

const version = lettaVersion();
const SECRET = randomBytes(24).toString('hex');
let server: LettaServer;
let service: CliProcess;
const scratch: string[] = [];
let orgA: string;
let orgB: string;
let userA: string;
let userB: string;
let agentA: string;
let agentB: string;
let mainB: string;

beforeAll(async () => {
  const port = await freePort();
  server = await LettaServer.start({ venv: inject('lettaVenv'), name: 'tenants', memfsServiceUrl: `http://127.0.0.1:${port}/${SECRET}` });
  mkdirSync(server.memfsRoot, { recursive: true });
  service = await startServe({ memfsRoot: server.memfsRoot, port, secret: SECRET, lettaUrl: server.url });
  // Letta's admin routes (letta/server/rest_api/routers/v1/organizations.py and users.py, under /v1/admin).
  const admin = new Rest(server.url);
  orgA = (await admin.ok('POST', '/v1/admin/orgs/', { name: 'tenant-a' })).id;
  orgB = (await admin.ok('POST', '/v1/admin/orgs/', { name: 'tenant-b' })).id;
  userA = (await admin.ok('POST', '/v1/admin/users/', { name: 'alice', organization_id: orgA })).id;
  userB = (await admin.ok('POST', '/v1/admin/users/', { name: 'bob', organization_id: orgB })).id;
  agentA = await createAgent(userA, 'tenant-a-agent');
  agentB = await createAgent(userB, 'tenant-b-agent');
  mainB = git(['--git-dir', server.repoGitDir(agentB, orgB), 'rev-parse', 'main']).trim();
}, 240_000);

/** An agent of `user`'s org. Letta upserts its base tools for the default org only, so a new org's agent has none. */
async function createAgent(user: string, name: string): Promise<string> {
  const agent = await new Rest(server.url, undefined, user).ok('POST', '/v1/agents/', {
    name,
    model: 'letta/letta-free',
    embedding: 'letta/letta-free',
    tags: ['git-memory-enabled'],
    include_base_tools: false,
    memory_blocks: [{ label: 'human', value: 'The human is called Ada.', description: 'About the human' }],
  });
  return agent.id as string;
}

afterAll(async () => {
  await service?.stop();
  await server?.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function run(args: string[], cwd?: string): { code: number; err: string } {
  try {
    execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'e', GIT_AUTHOR_EMAIL: 'e@e', GIT_COMMITTER_NAME: 'e', GIT_COMMITTER_EMAIL: 'e@e' } });
    return { code: 0, err: '' };
  } catch (e) {
    const err = e as { status: number; stderr: Buffer };
    return { code: err.status ?? 1, err: String(err.stderr ?? '') };
  }
}

/** git as a client that sets its own headers (user_id is Letta's actor header, dependencies.py `get_headers`). */
function gitWith(headers: string[], args: string[], cwd?: string): { code: number; err: string } {
  return run([...headers.flatMap((h) => ['-c', `http.extraHeader=${h}`]), '-c', 'credential.helper=', ...args], cwd);
}

/** One request with the path exactly as given (no client-side normalisation), through Letta's proxy. */
function raw(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function scratchDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'letta-e2e-tenant-'));
  scratch.push(d);
  return d;
}

describe(`letta ${version} unpatched + serve: one org's user cannot reach another org's agent`, () => {
  it("the dot-segment path with a forged X-Organization-Id: clone and push of org B's agent by org A's user are refused", async () => {
    const dir = scratchDir();
    const forged = [`user_id: ${userA}`, `X-Organization-Id: ${orgB}`];
    const url = `${server.url}/v1/git/x/y/%2e%2e/%2e%2e/${agentB}/state.git`;
    const clone = gitWith(forged, ['clone', '-q', url, join(dir, 'stolen')]);
    expect(clone.code, 'the clone went through').not.toBe(0);
    // A push needs no clone: any commit on top of B's main, sent to the same URL.
    const mine = join(dir, 'mine');
    expect(gitWith([`user_id: ${userA}`], ['clone', '-q', `${server.url}/v1/git/${agentA}/state.git`, mine]).code).toBe(0);
    writeFileSync(join(mine, 'system/human.md'), blockFile({ description: 'pwned' }, 'written by org A'));
    run(['add', '-A'], mine);
    run(['commit', '-q', '-m', 'cross-tenant'], mine);
    const push = gitWith(forged, ['push', url, 'HEAD:refs/heads/main'], mine);
    expect(push.code).not.toBe(0);
    expect(git(['--git-dir', server.repoGitDir(agentB, orgB), 'rev-parse', 'main']).trim()).toBe(mainB);
    // The git calls above block this process: serve's log lines are read now.
    await service.waitFor(/refused GET agent-[0-9a-f-]+ git-upload-pack \(refs\) 403: Letta says this actor cannot reach the agent/, 10_000);
  });

  it('other encodings, dot segments and header forgeries: every one refused, none shows B main', async () => {
    const q = '/info/refs?service=git-upload-pack';
    const paths = [
      `/v1/git/x/y/%2e%2e/%2e%2e/${agentB}/state.git${q}`,
      `/v1/git/x/y/%2E%2E/%2E%2E/${agentB}/state.git${q}`,
      `/v1/git/x/y/.%2e/%2e./${agentB}/state.git${q}`,
      `/v1/git/x/y/../../${agentB}/state.git${q}`,
      `/v1/git/x/./${agentB}/state.git${q}`,
      `/v1/git/${agentA}/state.git/%2e%2e/%2e%2e/${agentB}/state.git${q}`,
      `/v1/git/${agentB}%2fstate.git${q}`,
      `/v1/git/${agentB}/state.git${q}`,
      `/v1/git/${agentB}/state.git/${q.slice(1)}`,
    ];
    const forgeries: Record<string, string>[] = [
      { user_id: userA, 'x-organization-id': orgB },
      { user_id: userA },
      { user_id: userA, 'x-organization-id': orgA },
    ];
    for (const p of paths) {
      for (const h of forgeries) {
        const r = await raw(p, h);
        expect([r.status, p, h], r.body.slice(0, 200)).not.toEqual([200, p, h]);
        expect(r.body).not.toContain(mainB);
      }
    }
    // A malformed or doubled actor header is not taken as "no actor" (which would mean Letta's default user).
    for (const user of ['user-not-an-id', `${userA}, ${userB}`]) {
      const r = await raw(`/v1/git/x/y/%2e%2e/%2e%2e/${agentB}/state.git${q}`, { user_id: user, 'x-organization-id': orgB });
      expect(r.status).not.toBe(200);
      expect(r.body).not.toContain(mainB);
    }
  });

  it('the legitimate users clone, push and see their blocks synced, each in their own org', async () => {
    for (const [user, agent, org] of [
      [userA, agentA, orgA],
      [userB, agentB, orgB],
    ]) {
      const dir = join(scratchDir(), 'm');
      const as = [`user_id: ${user}`];
      const c = gitWith(as, ['clone', '-q', `${server.url}/v1/git/${agent}/state.git`, dir]);
      expect(c.code, c.err).toBe(0);
      expect(readFileSync(join(dir, 'system/human.md'), 'utf8')).toContain('Ada');
      writeFileSync(join(dir, 'system/human.md'), blockFile({ description: 'About the human' }, `Ada, as seen by ${user}`));
      run(['commit', '-q', '-am', 'edit'], dir);
      const p = gitWith(as, ['push', 'origin', 'main'], dir);
      expect(p.code, p.err).toBe(0);
      expect(git(['--git-dir', server.repoGitDir(agent, org), 'rev-parse', 'main']).trim()).toBe(git(['rev-parse', 'HEAD'], dir).trim());
      const rest = new Rest(server.url, undefined, user);
      let value = '';
      for (let i = 0; i < 100 && value !== `Ada, as seen by ${user}`; i++) {
        value = (await rest.blockByLabel(agent, 'system/human'))?.value ?? '';
        if (value !== `Ada, as seen by ${user}`) await new Promise((r) => setTimeout(r, 100));
      }
      expect(value).toBe(`Ada, as seen by ${user}`);
    }
    mainB = git(['--git-dir', server.repoGitDir(agentB, orgB), 'rev-parse', 'main']).trim();
  });
});
