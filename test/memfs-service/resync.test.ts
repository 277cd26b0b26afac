// Letta's post-push syncs are unserialised background tasks: a slow sync of an earlier push can land after a later
// one and leave Letta's blocks behind main (a file's block detached or stale). serve, once pushes settle, checks
// the blocks against main and asks Letta to sync again through its proxy. Real processes: serve, git clients, and
// a small stand-in for Letta's proxy (forwards /v1/git/ to serve like git_http.py @ 0.16.7, then "syncs" from
// main's parent the first time: the stale sync).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { blockValueOf } from '../../src/server/memfs-service/recompile.js';
import { sh, tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, memfsFile, newAgentId, ORG, startService, type Service } from './fixture.js';

let t: { dir: string; cleanup: () => void };
let svc: Service | undefined;
let letta: http.Server | undefined;

beforeEach(() => {
  t = tempDir('lmh-resync-');
});
afterEach(async () => {
  await svc?.stop();
  await new Promise((r) => (letta ? letta.close(r) : r(undefined)));
  t.cleanup();
});

/** Blocks as Letta's sync makes them from a commit: every *.md is a block labelled by its path. */
function blocksAt(gitDir: string, rev: string): { label: string; value: string }[] {
  const files = execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '-r', '--name-only', rev], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.md'));
  return files.map((f) => ({ label: f.slice(0, -3), value: blockValueOf(execFileSync('git', ['--git-dir', gitDir, 'show', `${rev}:${f}`], { encoding: 'utf8' })) }));
}

it('a stale post-push sync is noticed and Letta is made to sync again; blocks end up matching main', async () => {
  const root = path.join(t.dir, 'memfs');
  fs.mkdirSync(root);
  const agent = newAgentId();
  const gitDir = createAgentRepo(root, agent);
  let blocks = blocksAt(gitDir, 'main');
  const receivePacks: number[] = [];
  let syncs = 0;
  letta = http.createServer((req, res) => {
    const url = req.url ?? '';
    // serve's access check: Letta's default user may reach the agent.
    if (url === `/v1/agents/${agent}`) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: agent }));
    if (url.startsWith(`/v1/agents/${agent}/core-memory/blocks`)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(blocks));
      return;
    }
    const m = /^\/v1\/git\/(.*)$/.exec(url);
    if (!m) return void res.writeHead(404).end();
    const headers = { ...req.headers, 'x-organization-id': ORG, host: `127.0.0.1:${svc!.port}` };
    delete headers['content-length'];
    const up = http.request({ host: '127.0.0.1', port: svc!.port, method: req.method, path: `/${svc!.secret}/git/${m[1]}`, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      r.on('end', () => {
        if (req.method !== 'POST' || !url.endsWith('/git-receive-pack') || (r.statusCode ?? 500) >= 400) return;
        receivePacks.push(Date.now());
        // The first sync reads main's parent: the slow sync of an earlier push, landing last.
        blocks = blocksAt(gitDir, syncs++ === 0 ? 'main~1' : 'main');
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => letta!.listen(0, '127.0.0.1', r));
  const lettaUrl = `http://127.0.0.1:${(letta.address() as AddressInfo).port}`;
  svc = await startService({ root, args: ['--letta-url', lettaUrl, '--check-after', '1'] });

  const clone = path.join(t.dir, 'c');
  const origin = `${lettaUrl}/v1/git/${agent}/state.git`;
  expect((await gitClient(t.dir, ['clone', '-q', origin, clone], null)).code).toBe(0);
  fs.mkdirSync(path.join(clone, 'reference'));
  fs.writeFileSync(path.join(clone, 'reference/new.md'), memfsFile('New', 'pushed value'));
  sh(clone, ['add', '-A']);
  sh(clone, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'new file']);
  const push = await gitClient(clone, ['push', '-q', 'origin', 'HEAD:main'], null);
  expect(push.code, push.err).toBe(0);
  expect(blocks.some((b) => b.label === 'reference/new')).toBe(false); // the stale sync

  const end = Date.now() + 30_000;
  while (!blocks.some((b) => b.label === 'reference/new' && b.value === 'pushed value') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  expect(blocks.find((b) => b.label === 'reference/new')?.value, svc.log()).toBe('pushed value');
  expect(receivePacks).toHaveLength(2); // the push, then serve's empty one that made Letta sync again
  expect(execFileSync('git', ['--git-dir', gitDir, 'rev-parse', 'main'], { encoding: 'utf8' }).trim()).toBe(sh(clone, ['rev-parse', 'HEAD']));
  for (let i = 0; i < 50 && !svc.log().includes('Letta synced again'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(svc.log()).toContain(`${agent}: Letta's blocks did not match main ${sh(clone, ['rev-parse', 'HEAD']).slice(0, 12)} (reference/new); Letta synced again`);
});
