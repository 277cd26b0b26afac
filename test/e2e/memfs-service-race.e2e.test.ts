// Stock mode, the lost-push race (facts §6): a push through Letta's /v1/git/ proxy that lands while a REST block edit
// is in flight was reported successful, then the server's copy-back of its temp repo overwrote refs/heads/main.
// 20 pushes and 20 REST edits fired at the same moment, on an unpatched letta with and without Redis: every pushed
// commit must end up in main, and its block in Postgres.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';
import { blockFile, git } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { freePort, LettaServer } from './helpers/server.js';

const run = promisify(execFile);
const version = lettaVersion();
const BASIC = `Authorization: Basic ${Buffer.from('letta:sk-let-e2e-not-a-real-key').toString('base64')}`;
const LC = ['-c', `http.extraHeader=${BASIC}`, '-c', 'credential.helper=', '-c', 'core.askPass='];
const REDIS = { host: '127.0.0.1', port: 6379 };
const ROUNDS = 20;
const cleanup: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function stack(redis: boolean): Promise<{ server: LettaServer; api: Rest; log: () => string }> {
  const secret = randomBytes(24).toString('hex');
  const port = await freePort();
  const server = await LettaServer.start({ venv: inject('lettaVenv'), name: `race-${redis ? 'redis' : 'plain'}`, memfsServiceUrl: `http://127.0.0.1:${port}/${secret}`, redis: redis ? REDIS : undefined });
  cleanup.push(() => server.stop());
  mkdirSync(server.memfsRoot, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, LETTA_MEMFS_SERVICE_SECRET: secret, LETTA_REDIS_HOST: undefined, LETTA_REDIS_PORT: undefined };
  if (redis) Object.assign(env, { LETTA_REDIS_HOST: REDIS.host, LETTA_REDIS_PORT: String(REDIS.port) });
  const service: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--memfs-root', server.memfsRoot, '--port', String(port), '--letta-url', server.url, '--check-after', '2'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  service.stderr!.on('data', (d) => (log += d));
  cleanup.push(() => void service.kill('SIGTERM'));
  for (let i = 0; i < 100 && !/on http:/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  expect(log).toMatch(/on http:/);
  return { server, api: new Rest(server.url), log: () => log };
}

/** Letta Code's push: `push origin main`; on a non-fast-forward, `pull --rebase` and push again. */
async function pushLikeLettaCode(dir: string): Promise<{ oid: string; tries: number }> {
  for (let tries = 1; tries <= 8; tries++) {
    try {
      await run('git', [...LC, 'push', '-q', 'origin', 'main'], { cwd: dir });
      return { oid: git(['rev-parse', 'HEAD'], dir).trim(), tries };
    } catch {
      await run('git', [...LC, 'pull', '-q', '--rebase', 'origin', 'main'], { cwd: dir }).catch(() => undefined);
    }
  }
  throw new Error('push failed 8 times');
}

describe.each([{ redis: false }, { redis: true }])(`letta ${version} unpatched + serve: the push/REST race`, ({ redis }) => {
  let s: Awaited<ReturnType<typeof stack>>;
  beforeAll(async () => {
    s = await stack(redis);
  }, 240_000);

  it(`${ROUNDS} pushes and ${ROUNDS} REST edits at the same moment, ${redis ? 'with' : 'without'} Redis: no pushed commit is lost`, async () => {
    const { server, api, log } = s;
    const agent = await api.createAgent(`race-${redis}`);
    const tmp = mkdtempSync(join(tmpdir(), 'letta-e2e-race-'));
    cleanup.push(() => rmSync(tmp, { recursive: true, force: true }));
    const dir = join(tmp, 'memory');
    git([...LC, 'clone', '-q', `${server.url}/v1/git/${agent.id}/state.git`, dir]);
    const persona = (await api.blockByLabel(agent.id, 'system/persona'))!;
    const pushed: string[] = [];
    const rest = { ok: 0, refused: 0, other: [] as string[] };
    let retries = 0;
    for (let i = 0; i < ROUNDS; i++) {
      mkdirSync(join(dir, 'reference'), { recursive: true });
      writeFileSync(join(dir, `reference/push-${i}.md`), blockFile({ description: `push ${i}` }, `pushed value ${i}`));
      git(['add', '-A'], dir);
      git(['commit', '-q', '-m', `push ${i}`], dir);
      // The push starts 0-190 ms after the edit, to land inside Letta's temp-copy commit in some rounds.
      const [edit, push] = await Promise.all([
        api.call('PATCH', `/v1/blocks/${persona.id}`, { value: `persona edit ${i}` }),
        new Promise((r) => setTimeout(r, (i * 10) % 200)).then(() => pushLikeLettaCode(dir)),
      ]);
      if (edit.status === 200) rest.ok++;
      else if (edit.status === 409) rest.refused++;
      else rest.other.push(`${edit.status} ${edit.text.slice(0, 120)}`);
      pushed.push(push.oid);
      retries += push.tries - 1;
    }
    // The service checks 2 s after each push, then every 30 s while it keeps the record.
    const gitDir = server.repoGitDir(agent.id);
    const missing = () => pushed.filter((oid) => {
      try {
        git(['--git-dir', gitDir, 'merge-base', '--is-ancestor', oid, 'main']);
        return false;
      } catch {
        return true;
      }
    });
    let lost = missing();
    const firstLost = lost.length;
    for (let i = 0; i < 90 && lost.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      lost = missing();
    }
    const restored = (log().match(/was overwritten by a Letta server commit; merged back/g) ?? []).length;
    console.log(`race ${redis ? 'with' : 'without'} Redis, letta ${version}: ${ROUNDS} pushes (${retries} client retries), REST ${rest.ok} ok / ${rest.refused} 409 / ${rest.other.length} other ${JSON.stringify(rest.other)}; missing from main right after: ${firstLost}, merged back: ${restored}, missing at the end: ${lost.length}`);
    expect(lost).toEqual([]);
    // Every pushed file reached Postgres through Letta's own post-push sync.
    let blocks = await api.blocks(agent.id);
    for (let i = 0; i < 100 && !Array.from({ length: ROUNDS }, (_, k) => k).every((k) => blocks.some((b) => b.label === `reference/push-${k}` && b.value === `pushed value ${k}`)); i++) {
      await new Promise((r) => setTimeout(r, 300));
      blocks = await api.blocks(agent.id);
    }
    const absent = Array.from({ length: ROUNDS }, (_, k) => `reference/push-${k}`).filter((l) => !blocks.some((b) => b.label === l));
    expect(absent).toEqual([]);
  }, 300_000);
});
