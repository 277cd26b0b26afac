import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyRequest } from '../../src/server/watch/webhook.js';
import { AGENT, clientSuite, commitAll, initCheckout, lettaGit, makeCheckout, md, sandbox, writeFile } from './env.js';

// After a push to main the client pokes the server's `watch` (signed), once the push has landed.
const USER = 'memfs-bot';
const TOKEN = 'poke-token-11';
const SECRET = 'poke-secret-0f9e8d';
const suite = clientSuite(USER, TOKEN);

interface Poke {
  url: string;
  verdict: ReturnType<typeof verifyRequest>;
  /** The external repo's main when the poke arrived. */
  hostMain: string;
}

let servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A stand-in for `watch`'s endpoint that checks each poke with the server's own verifier. */
async function watchEndpoint(repoName: string): Promise<{ url: string; pokes: Poke[] }> {
  const pokes: Poke[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const verdict = verifyRequest(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), SECRET);
      pokes.push({ url: req.url ?? '', verdict, hostMain: suite.host.git(repoName, ['rev-parse', 'refs/heads/main']) });
      res.writeHead(verdict.ok ? 202 : 401).end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, pokes };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

async function ready(withSecret: boolean) {
  const dir = suite.workspace('lmh-poke-');
  const sb = sandbox(dir, withSecret ? { LETTA_MEMFS_GIT_TOKEN: TOKEN, LETTA_MEMFS_WEBHOOK_SECRET: SECRET } : { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const name = `poke/${Math.random().toString(36).slice(2)}/${AGENT}.git`;
  const url = await suite.host.createRepo(name, { files: { 'system/human.md': md('h', 'Ada\n') } });
  const watch = await watchEndpoint(name);
  const checkout = makeCheckout(sb, path.join(dir, 'memory'));
  const r = initCheckout(sb, checkout, USER, url.replace(AGENT, '{agentId}'), ['--poke-url', watch.url]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain(`poke      ${watch.url}/poke/${AGENT} after each push to main`);
  expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
  return { sb, checkout, name, watch };
}

describe('client poke after push', () => {
  it('pokes watch once the push has landed, with a signature the server accepts', async () => {
    const c = await ready(true);
    writeFile(c.checkout, 'system/human.md', md('h', 'Ada L.\n'));
    const oid = commitAll(c.sb, c.checkout, 'edit');
    const push = lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']);
    expect(push.status, push.stderr).toBe(0);
    expect(await until(() => c.watch.pokes.length > 0, 10_000)).toBe(true);
    // Exactly one: nothing else follows it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.watch.pokes).toHaveLength(1);
    const [poke] = c.watch.pokes;
    expect(poke.url).toBe(`/poke/${AGENT}`);
    expect(poke.verdict).toMatchObject({ ok: true, source: 'poke', agentId: AGENT });
    expect(poke.hostMain).toBe(oid);
  });

  it('does not poke for a refused push, nor without the secret', async () => {
    const c = await ready(true);
    writeFile(c.checkout, 'system/bad.md', 'no frontmatter\n');
    commitAll(c.sb, c.checkout, 'bad');
    expect(lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']).status).not.toBe(0);
    // The waiter starts before the checks; a refusal stops it even when the tracking ref already names the refused
    // commit (the ref it waits for), so only the verdict stands between it and a poke.
    writeFile(c.checkout, 'system/bad2.md', 'still no frontmatter\n');
    const bad = commitAll(c.sb, c.checkout, 'bad again');
    expect(lettaGit(c.sb, c.checkout, ['update-ref', 'refs/remotes/origin/main', bad]).status).toBe(0);
    expect(lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']).status).not.toBe(0);

    const n = await ready(false);
    writeFile(n.checkout, 'system/human.md', md('h', 'changed\n'));
    commitAll(n.sb, n.checkout, 'edit');
    expect(lettaGit(n.sb, n.checkout, ['push', 'origin', 'main']).status).toBe(0);

    await new Promise((r) => setTimeout(r, 1500));
    expect(c.watch.pokes).toEqual([]);
    expect(n.watch.pokes).toEqual([]);
  });
});
