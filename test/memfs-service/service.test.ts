// The memfs git service against real git clients (no Letta): what Letta's /v1/git/ proxy would forward to it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, newAgentId, ORG, OTHER_ORG, OTHER_USER, startService, waitForLog, type Service } from './fixture.js';

let svc: Service;
let agent: string;
let gitDir: string;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-clients-');
  svc = await startService({ args: ['--max-body-mb', '1'] });
  agent = newAgentId();
  gitDir = createAgentRepo(svc.root, agent);
});

afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

const head = (dir = gitDir) => sh(dir, ['--git-dir', dir, 'rev-parse', 'refs/heads/main']);

let n = 0;
async function clone(a = agent, org: string | null = ORG): Promise<string> {
  const dir = path.join(work.dir, `c${++n}`);
  const r = await gitClient(work.dir, ['clone', '-q', svc.base(a), dir], org);
  expect(r.code, r.err).toBe(0);
  return dir;
}

function commitFile(dir: string, file: string, content: string | Buffer, msg = `edit ${file}`): string {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', msg]);
  return sh(dir, ['rev-parse', 'HEAD']);
}

/** One raw request with the path sent exactly as given (no client-side normalisation). */
function raw(opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: svc.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('memfs service: clone, fetch, push with real git', () => {
  it('clones, pushes a fast-forward into repo.git and another clone fetches it; repo.git/config untouched', async () => {
    const configBefore = fs.readFileSync(path.join(gitDir, 'config'));
    const a = await clone();
    expect(fs.readFileSync(path.join(a, 'system/human.md'), 'utf8')).toContain('Ada');
    const b = await clone();
    const oid = commitFile(a, 'system/human.md', '---\ndescription: About the human\n---\nAda moved to Lisbon.');
    const push = await gitClient(a, ['push', 'origin', 'main']);
    expect(push.code, push.err).toBe(0);
    expect(head()).toBe(oid);
    // Protocol v2 fetch (Git-Protocol header) as well as the v0 clone above.
    const fetched = await gitClient(b, ['-c', 'protocol.version=2', 'pull', '-q', '--ff-only', 'origin', 'main']);
    expect(fetched.code, fetched.err).toBe(0);
    expect(sh(b, ['rev-parse', 'HEAD'])).toBe(oid);
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(configBefore);
    expect(fs.existsSync(path.join(gitDir, 'hooks', 'pre-receive'))).toBe(false);
  });

  it('refuses a non-fast-forward push and a deletion of main, and main stays', async () => {
    const a = await clone();
    const before = head();
    commitFile(a, 'notes.md', 'rewritten history');
    sh(a, ['reset', '-q', '--hard', 'HEAD~2']);
    commitFile(a, 'other.md', 'diverged');
    const forced = await gitClient(a, ['push', '--force', 'origin', 'main']);
    expect(forced.code).not.toBe(0);
    expect(forced.err).toMatch(/\[remote rejected\] main -> main \(non-fast-forward\)/);
    const del = await gitClient(a, ['push', 'origin', ':main']);
    expect(del.code).not.toBe(0);
    expect(del.err).toMatch(/\[remote rejected\] main \(deletion prohibited\)/);
    expect(head()).toBe(before);
  });

  it('concurrent pushes from 4 clients: every one lands after pull --rebase retries, none lost', async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => clone()));
    const oids = clients.map((c, i) => commitFile(c, `notes/c${i}.md`, `client ${i}`));
    const pushes = await Promise.all(
      clients.map(async (c) => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const r = await gitClient(c, ['push', '-q', 'origin', 'main']);
          if (r.code === 0) return attempt;
          // A refused push is refused cleanly, in-band: non-fast-forward, or the ref lock held by another push.
          expect(r.err).toMatch(/non-fast-forward|fetch first|failed to (update|lock) ref|cannot lock ref|rejected/);
          const p = await gitClient(c, ['pull', '-q', '--rebase', 'origin', 'main']);
          expect(p.code, p.err).toBe(0);
        }
        throw new Error('push never landed');
      }),
    );
    expect(pushes.length).toBe(4);
    const log = sh(gitDir, ['--git-dir', gitDir, 'log', '--format=%s', 'main']);
    for (let i = 0; i < 4; i++) expect(log).toContain(`edit notes/c${i}.md`);
    expect(new Set(oids).size).toBe(4);
    sh(gitDir, ['--git-dir', gitDir, 'fsck', '--no-progress']);
  });
});

describe('memfs service: refusals', () => {
  const info = (prefix: string, a = agent) => `/${prefix}/git/${a}/state.git/info/refs?service=git-upload-pack`;

  it('GET /healthz is 200 without the secret (probes); other methods on it and /healthz/x are refused', async () => {
    const r = await raw({ path: '/healthz' });
    expect([r.status, r.body.toString()]).toEqual([200, 'ok\n']);
    expect((await raw({ method: 'HEAD', path: '/healthz' })).status).toBe(200);
    expect((await raw({ method: 'POST', path: '/healthz' })).status).toBe(404);
    expect((await raw({ path: '/healthz/x' })).status).toBe(404);
  });

  it('a wrong or missing prefix is a 404, with the secret and the Authorization header never logged', async () => {
    const headers = { 'X-Organization-Id': ORG, Authorization: 'Basic bGV0dGE6c2VjcmV0LWtleS0xMjM=' };
    expect((await raw({ path: info('wrong-secret-wrong-secret-wrong') , headers })).status).toBe(404);
    expect((await raw({ path: `/git/${agent}/state.git/info/refs?service=git-upload-pack`, headers })).status).toBe(404);
    expect((await raw({ path: info(svc.secret.slice(0, -1)), headers })).status).toBe(404);
    expect((await raw({ path: info(`${svc.secret}x`), headers })).status).toBe(404);
    const ok = await raw({ path: info(svc.secret), headers });
    expect(ok.status).toBe(200);
    expect(ok.body.toString('latin1')).toContain('# service=git-upload-pack');
    const r = await gitClient(work.dir, ['ls-remote', svc.base(agent).replace(svc.secret, 'nope')]);
    expect(r.code).not.toBe(0);
    expect(svc.log()).not.toContain(svc.secret);
    expect(svc.log()).not.toContain('bGV0dGE6c2VjcmV0LWtleS0xMjM=');
    expect(svc.log()).toMatch(/refused GET 404: wrong or missing prefix/);
  });

  it('a forged, malformed or missing org is refused; the agent of another org is not reachable', async () => {
    const otherAgent = newAgentId();
    createAgentRepo(svc.root, otherAgent, OTHER_ORG);
    // Letta (here its stand-in) says whether the actor may reach the agent, whatever org header came along: the
    // default user may not reach OTHER_ORG's agent (403), its own user may, but only in the org that holds the repo.
    expect((await raw({ path: info(svc.secret, otherAgent), headers: { 'X-Organization-Id': ORG } })).status).toBe(403);
    expect((await raw({ path: info(svc.secret, otherAgent), headers: { 'X-Organization-Id': OTHER_ORG } })).status).toBe(403);
    expect((await raw({ path: info(svc.secret, otherAgent), headers: { 'X-Organization-Id': ORG, user_id: OTHER_USER } })).status).toBe(404);
    expect((await raw({ path: info(svc.secret, otherAgent), headers: { 'X-Organization-Id': OTHER_ORG, user_id: OTHER_USER } })).status).toBe(200);
    expect((await raw({ path: info(svc.secret, agent), headers: { 'X-Organization-Id': ORG, user_id: OTHER_USER } })).status).toBe(403);
    for (const org of ['../../..', `${ORG}/..`, 'org-00000000-0000-4000-8000-00000000000', ORG.toUpperCase(), `${ORG}, ${OTHER_ORG}`]) {
      expect((await raw({ path: info(svc.secret), headers: { 'X-Organization-Id': org } })).status, org).toBe(400);
    }
    expect((await raw({ path: info(svc.secret) })).status).toBe(400);
    const cloneNoOrg = await gitClient(work.dir, ['ls-remote', svc.base(agent)], null);
    expect(cloneNoOrg.code).not.toBe(0);
  });

  it('traversal attempts (dot segments, %2e%2e, encoded slashes) are 400 or 404 and touch nothing', async () => {
    const headers = { 'X-Organization-Id': ORG };
    const s = svc.secret;
    const paths = [
      `/${s}/git/../${agent}/state.git/info/refs?service=git-upload-pack`,
      `/${s}/git/%2e%2e/state.git/info/refs?service=git-upload-pack`,
      `/${s}/git/${agent}%2f..%2f${agent}/state.git/info/refs?service=git-upload-pack`,
      `/${s}/git/${agent}/state.git/../../../etc/info/refs?service=git-upload-pack`,
      `/${s}/git/${agent}/state.git/%2e%2e/info/refs?service=git-upload-pack`,
      `/${s}/git/${agent}/state.git/HEAD`,
      `/${s}/git/${agent}/state.git/objects/info/packs`,
      `/${s}/git/${agent}/state.git/config`,
      `/${s}%2fgit/${agent}/state.git/info/refs?service=git-upload-pack`,
      `/${s}/git/agent-x/state.git/info/refs?service=git-upload-pack`,
    ];
    for (const p of paths) {
      const r = await raw({ path: p, headers });
      const unnormal = /\/\.\.?\/|%2e|%2f/i.test(p);
      expect(r.status, p).toBe(unnormal ? 400 : 404);
      expect(r.body.toString()).toBe(unnormal ? 'path has dot segments or encoded separators\n' : 'not found\n');
    }
    // Dumb HTTP (info/refs without a service) would serve repo.git's files: refused.
    expect((await raw({ path: `/${s}/git/${agent}/state.git/info/refs`, headers })).status).toBe(403);
  });

  it('an unknown agent is refused (Letta does not know it: 403) and no repo is created', async () => {
    const ghost = newAgentId();
    const r = await gitClient(work.dir, ['ls-remote', svc.base(ghost)]);
    expect(r.code).not.toBe(0);
    const push = await raw({ method: 'GET', path: `/${svc.secret}/git/${ghost}/state.git/info/refs?service=git-receive-pack`, headers: { 'X-Organization-Id': ORG } });
    expect(push.status).toBe(403);
    expect(fs.existsSync(path.join(svc.root, 'repository', ORG, ghost))).toBe(false);
  });

  it('a push over the body cap (1 MiB here, sent chunked) is refused with 413; main stays and the service still serves', async () => {
    const a = await clone();
    const before = head();
    commitFile(a, 'big.md', randomBytes(2 * 1024 * 1024).toString('base64'));
    const r = await gitClient(a, ['push', 'origin', 'main']);
    expect(r.code).not.toBe(0);
    expect(r.err, r.err).toMatch(/413|unexpected disconnect|the remote end hung up/);
    expect(head()).toBe(before);
    await waitForLog(svc, /git-receive-pack 413/);
    await clone();
  });

  it('gzip request bodies are inflated (git gzips large upload-pack requests); broken gzip is a 400', async () => {
    const want = `want ${head()}\n`;
    const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
    const body = gzipSync(Buffer.from(`${pkt(want)}0000${pkt('done\n')}`));
    const headers = { 'X-Organization-Id': ORG, 'Content-Type': 'application/x-git-upload-pack-request', 'Content-Encoding': 'gzip' };
    const ok = await raw({ method: 'POST', path: `/${svc.secret}/git/${agent}/state.git/git-upload-pack`, headers, body });
    expect(ok.status).toBe(200);
    expect(ok.body.includes(Buffer.from('PACK'))).toBe(true);
    const bad = await raw({ method: 'POST', path: `/${svc.secret}/git/${agent}/state.git/git-upload-pack`, headers, body: Buffer.from('not gzip at all') });
    expect(bad.status).toBe(400);
    // Valid want lines, 8 MiB of them once inflated, from a few KiB on the wire: cut at the cap after gunzip.
    const bomb = gzipSync(Buffer.from(pkt(want).repeat((8 * 1024 * 1024) / 54)));
    expect((await raw({ method: 'POST', path: `/${svc.secret}/git/${agent}/state.git/git-upload-pack`, headers, body: bomb })).status).toBe(413);
  });
});

describe('memfs service: bounded backends', () => {
  it('with every git slot and the queue taken a request gets 503; a client that goes away has its git killed', async () => {
    const small = await startService({ args: ['--max-backends', '1', '--queue', '0'] });
    try {
      const a = newAgentId();
      createAgentRepo(small.root, a);
      // Holds the only slot: an upload-pack request whose body never ends.
      const held = http.request({
        host: '127.0.0.1',
        port: small.port,
        method: 'POST',
        path: `/${small.secret}/git/${a}/state.git/git-upload-pack`,
        headers: { 'X-Organization-Id': ORG, 'Content-Type': 'application/x-git-upload-pack-request' },
      });
      held.on('error', () => undefined);
      held.flushHeaders();
      await new Promise((r) => setTimeout(r, 300));
      const r = await fetch(`http://127.0.0.1:${small.port}/${small.secret}/git/${a}/state.git/info/refs?service=git-upload-pack`, { headers: { 'X-Organization-Id': ORG } });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      held.destroy();
      // The slot comes back once the abandoned git is killed.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await new Promise((res) => setTimeout(res, 100));
        status = (await fetch(`http://127.0.0.1:${small.port}/${small.secret}/git/${a}/state.git/info/refs?service=git-upload-pack`, { headers: { 'X-Organization-Id': ORG } })).status;
      }
      expect(status).toBe(200);
      await waitForLog(small, /git-upload-pack 499/);
    } finally {
      await small.stop();
      small.cleanup();
    }
  });
});
