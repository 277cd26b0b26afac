// Replicas under faults (issue 20): a real unpatched Letta with Redis, two `serve` replicas behind one round-robin
// front (as a Kubernetes Service) and two `watch` replicas on the one memfs volume, all sharing Letta's Redis. For
// LMH_FAULT_SECONDS (120) a Letta Code client pushes agent A through Letta's /v1/git/, a client of the external host
// pushes agent B there, and REST edits change both agents' system/human block, while replicas are killed with -9
// and started again at random (seeded: LMH_FAULT_SEED), every other kill aimed at a replica holding an agent's
// lease, the others at a random watch or serve in turn. At the end: no reported commit missing from Letta's main or the external host, every block as main's file
// says (and system/human as the last REST edit), no commit pushed or moved into Letta twice, failover within 10 s.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { basicAuth, type GitHost, startGitHost } from '../fixtures/git-host.js';
import { until } from '../helpers/until.js';
import { leaseKey } from '../../src/server/letta/lease.js';
import { redisCommand } from '../../src/server/letta/redis-lock.js';
import { cliOk } from './helpers/cli.js';
import { lettaVersion } from './helpers/env.js';
import { Replica, roundRobin } from './helpers/replicas.js';
import { blockFile, git } from './helpers/repo.js';
import { Rest } from './helpers/rest.js';
import { freePort, LettaServer } from './helpers/server.js';
import { lcGit, unsynced } from './helpers/stock.js';
import { mulberry32 } from '../helpers/prng.js';

const version = lettaVersion();
const REDIS = { host: '127.0.0.1', port: 6379 };
const SECONDS = Number(process.env.LMH_FAULT_SECONDS ?? 120);
const SEED = Number(process.env.LMH_FAULT_SEED ?? 20);
const TOKEN = `host-token-${randomBytes(8).toString('hex')}`;
const HOST_GIT = ['-c', `http.extraHeader=Authorization: ${basicAuth('git', TOKEN)}`, '-c', 'credential.helper=', '-c', 'commit.gpgsign=false'];

let server: LettaServer;
let host: GitHost;
let front: { port: number; close: () => Promise<void> };
let api: Rest;
let env: NodeJS.ProcessEnv;
const serves: Replica[] = [];
const watches: Replica[] = [];
const scratch: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


beforeAll(async () => {
  const secret = randomBytes(24).toString('hex');
  const ports = [await freePort(), await freePort()];
  front = await roundRobin(ports);
  [server, host] = await Promise.all([
    LettaServer.start({ venv: inject('lettaVenv'), name: 'replicas', memfsServiceUrl: `http://127.0.0.1:${front.port}/${secret}`, redis: REDIS }),
    startGitHost({ user: 'git', token: TOKEN }),
  ]);
  mkdirSync(server.memfsRoot, { recursive: true });
  api = new Rest(server.url);
  env = {
    LETTA_MEMFS_ROOT: server.memfsRoot,
    LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
    LETTA_BASE_URL: server.url,
    LETTA_MEMFS_GIT_TOKEN: TOKEN,
    LETTA_REDIS_HOST: REDIS.host,
    LETTA_REDIS_PORT: String(REDIS.port),
    LETTA_MEMFS_SERVICE_SECRET: secret,
  };
  for (const [i, port] of ports.entries()) {
    serves.push(new Replica(`serve-${i + 1}`, ['serve', '--memfs-root', server.memfsRoot, '--port', String(port), '--letta-url', server.url, '--check-after', '2'], env, /on http:/));
    watches.push(new Replica(`watch-${i + 1}`, ['watch', '--no-listen', '--interval', '3', '--rescan', '5'], env, /watching /));
  }
  await Promise.all(serves.map((r) => r.start()));
}, 300_000);

afterAll(async () => {
  await Promise.all([...serves, ...watches].map((r) => r.stop()));
  await front?.close();
  await Promise.all([server?.stop(), host?.close()]);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

async function provision(name: string): Promise<string> {
  const agent = await api.createAgent(name);
  await host.createRepo(`agents/${agent.id}.git`);
  cliOk(['init', '--server', '--agent', agent.id], env);
  return agent.id;
}

const serverMain = (agent: string) => git(['--git-dir', server.repoGitDir(agent), 'rev-parse', 'main']).trim();
const hostMain = (agent: string) => {
  try {
    return host.git(`agents/${agent}.git`, ['rev-parse', '--verify', '-q', 'refs/heads/main']) || undefined;
  } catch {
    return undefined;
  }
};
const inServer = (agent: string, oid: string) => {
  try {
    git(['--git-dir', server.repoGitDir(agent), 'merge-base', '--is-ancestor', oid, 'main']);
    return true;
  } catch {
    return false;
  }
};
const inHost = (agent: string, oid: string) => {
  try {
    host.git(`agents/${agent}.git`, ['merge-base', '--is-ancestor', oid, 'main']);
    return true;
  } catch {
    return false;
  }
};

/** The pid in a lease value `<host>:<pid>:<random>:<fence>`. */
const pidOf = (value: string) => Number(/:(\d+):[0-9a-f]{6}:\d+$/.exec(value)?.[1]);

/**
 * Commits one file and pushes it, retrying (pull --rebase on a rejection) as a user would; undefined (a stuck push,
 * itself a failure) when it has not gone through after 90 s.
 */
async function commitAndPush(dir: string, file: string, content: string, push: () => Promise<{ code: number; err: string }>, rebase: () => Promise<unknown>): Promise<string | undefined> {
  mkdirSync(join(dir, 'reference'), { recursive: true });
  writeFileSync(join(dir, file), content);
  git(['add', '-A'], dir);
  git(['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', `add ${file}`], dir);
  const end = Date.now() + 90_000;
  while (Date.now() < end) {
    const r = await push();
    if (r.code === 0) return git(['rev-parse', 'HEAD'], dir).trim();
    if (/non-fast-forward|fetch first|rejected/i.test(r.err)) await rebase();
    await sleep(500);
  }
  return undefined;
}

describe(`letta ${version} + Redis: two watch and two serve replicas, killed and restarted while clients work`, () => {
  it('no commit lost, no block wrong, no duplicate push or sync, failover within 10 s', async () => {
    const [a, b] = [await provision('replica-a'), await provision('replica-b')];
    await Promise.all(watches.map((r) => r.start()));
    await until('watch seeded both external repos', () => (hostMain(a) && hostMain(b) ? true : undefined), 60_000);
    const tmp = mkdtempSync(join(tmpdir(), 'letta-e2e-replicas-'));
    scratch.push(tmp);
    const dirA = join(tmp, 'a');
    const dirB = join(tmp, 'b');
    expect((await lcGit(['clone', '-q', `${server.url}/v1/git/${a}/state.git`, dirA], tmp)).code).toBe(0);
    git([...HOST_GIT, 'clone', '-q', `${host.url}/agents/${b}.git`, dirB], tmp);
    const blockId = async (agent: string) => (await api.blocks(agent)).find((x) => x.label === 'system/human')!.id;
    const human = { [a]: await blockId(a), [b]: await blockId(b) };

    let stopping = false;
    const started = Date.now();
    const t = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const reported = { [a]: [] as string[], [b]: [] as string[] };
    const stuck: string[] = [];
    // Changes of main that do not descend from the one before: Letta's copy-back race overwriting a push (facts §6),
    // which serve's checks merge back; reported, and the end state must hold every reported commit regardless.
    const rewinds: string[] = [];
    const seen = { [a]: serverMain(a), [b]: serverMain(b) };
    const watchMain = setInterval(() => {
      for (const agent of [a, b]) {
        let now: string;
        try {
          now = serverMain(agent);
        } catch {
          continue;
        }
        if (now !== seen[agent] && !inServer(agent, seen[agent])) rewinds.push(`${t()} ${agent.slice(-6)} ${seen[agent].slice(0, 12)} -> ${now.slice(0, 12)}`);
        seen[agent] = now;
      }
    }, 200);
    const rest = { ok: 0, conflict: 0, last: {} as Record<string, string> };
    const hostGit = async (args: string[]) => {
      try {
        git([...HOST_GIT, ...args], dirB);
        return { code: 0, err: '' };
      } catch (e) {
        return { code: 1, err: String((e as { stderr?: string }).stderr ?? e) };
      }
    };
    const work = [
      (async () => {
        for (let i = 0; !stopping; i++) {
          const oid = await commitAndPush(dirA, `reference/lc-${i}.md`, blockFile({ description: `lc ${i}` }, `pushed through Letta ${i}`), () => lcGit(['push', '-q', 'origin', 'main'], dirA), () => lcGit(['pull', '-q', '--rebase', 'origin', 'main'], dirA));
          if (oid) reported[a].push(oid);
          else stuck.push(`${t()} lc-${i}`);
          await sleep(1_000);
        }
      })(),
      (async () => {
        for (let i = 0; !stopping; i++) {
          const oid = await commitAndPush(dirB, `reference/ext-${i}.md`, blockFile({ description: `ext ${i}` }, `pushed to the host ${i}`), () => hostGit(['push', '-q', 'origin', 'HEAD:main']), () => hostGit(['pull', '-q', '--rebase', 'origin', 'main']));
          if (oid) reported[b].push(oid);
          else stuck.push(`${t()} ext-${i}`);
          await sleep(1_500);
        }
      })(),
      (async () => {
        for (let i = 0; !stopping; i++) {
          const agent = i % 2 === 0 ? a : b;
          const value = `REST edit ${i} of ${agent.slice(-6)}`;
          const r = await api.call('PATCH', `/v1/blocks/${human[agent]}`, { value }).catch(() => ({ status: 0 }));
          if (r.status === 200) {
            rest.ok++;
            rest.last[agent] = value;
          } else rest.conflict++;
          await sleep(2_000);
        }
      })(),
    ];

    // Chaos: one replica down at a time, 4-10 s apart; every other kill aims at a replica holding a lease.
    const rand = mulberry32(SEED);
    const replicas = [...serves, ...watches];
    const kills: { victim: string; held: number; freedMs: number[]; takenMs: number[] }[] = [];
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      await sleep(4_000 + rand() * 6_000);
      let leases: { agent: string; value: string }[] = [];
      const aimed = kills.length % 2 === 0;
      const look = Date.now() + (aimed ? 3_000 : 0);
      do {
        leases = (await Promise.all([a, b].map(async (agent) => ({ agent, value: String((await redisCommand(REDIS, ['GET', leaseKey(agent)])) ?? '') })))).filter((l) => l.value);
        if (leases.length > 0 || Date.now() >= look) break;
        await sleep(50);
      } while (aimed);
      const active = aimed ? replicas.find((r) => leases.some((l) => pidOf(l.value) === r.pid)) : undefined;
      // The other kills alternate between the watch and the serve replicas, each time a random one of the two.
      const pool = Math.floor(kills.length / 2) % 2 === 0 ? watches : serves;
      const victim = active ?? pool[Math.floor(rand() * pool.length)];
      const held = leases.filter((l) => pidOf(l.value) === victim.pid);
      const killedAt = Date.now();
      victim.kill9();
      const k = { at: t(), victim: victim.name, held: held.length, freedMs: [] as number[], takenMs: [] as number[] };
      kills.push(k);
      // Failover of each lease it held: freed (expired) and taken by a surviving replica with work to do.
      await Promise.all(
        held.map(async (l) => {
          let freed = false;
          while (Date.now() - killedAt < 20_000) {
            const now = String((await redisCommand(REDIS, ['GET', leaseKey(l.agent)])) ?? '');
            if (!freed && now !== l.value) {
              freed = true;
              k.freedMs.push(Date.now() - killedAt);
            }
            if (now && now !== l.value) {
              k.takenMs.push(Date.now() - killedAt);
              return;
            }
            await sleep(50);
          }
        }),
      );
      await sleep(1_000 + rand() * 3_000);
      await victim.start();
    }
    stopping = true;
    await Promise.all(work);
    clearInterval(watchMain);

    // Settle: every reported commit in Letta's main and on the host, and the host at main.
    const missing = () => [a, b].flatMap((agent) => reported[agent].filter((oid) => !inServer(agent, oid) || !inHost(agent, oid)).map((oid) => `${agent.slice(-6)} ${oid.slice(0, 12)}`));
    const logs = () => replicas.map((r) => `--- ${r.name}:\n${r.log().split('\n').filter((l) => !/ 200 in \d+ ms$/.test(l)).slice(-40).join('\n')}`).join('\n');
    const lost = await until('every reported commit in main and on the host', () => (missing().length === 0 ? [] : undefined), 90_000).catch(missing);
    await until('the host at main for both agents', () => ([a, b].every((x) => hostMain(x) === serverMain(x)) ? true : undefined), 60_000).catch(() => undefined);
    const restKept = new Set<string>();
    const keptInConflict = (agent: string, value: string) =>
      git(['--git-dir', server.repoGitDir(agent), 'for-each-ref', '--format=%(refname)', 'refs/letta-memfs/conflicts/'])
        .split('\n')
        .filter(Boolean)
        .some((ref) => git(['--git-dir', server.repoGitDir(agent), 'show', `${ref}:system/human.md`]).endsWith(value));
    const wrong = async () =>
      (
        await Promise.all(
          [a, b].map(async (agent) => {
            const blocks = await api.blocks(agent);
            const files = agent === a ? reported[a].map((_, i) => `reference/lc-${i}`) : reported[b].map((_, i) => `reference/ext-${i}`);
            const absent = files.filter((l) => !blocks.some((x) => x.label === l)).map((l) => `${l} (no block)`);
            const humanValue = blocks.find((x) => x.label === 'system/human')?.value;
            // The last REST edit is the block's value, unless a push that a Letta copy-back had overwritten conflicted
            // with it when merged back: the push wins and the edit is kept under refs/letta-memfs/conflicts/ (README).
            const last = rest.last[agent];
            const kept = last !== undefined && humanValue !== last && keptInConflict(agent, last);
            if (kept) restKept.add(agent);
            const restWrong = last !== undefined && humanValue !== last && !kept ? [`system/human is ${JSON.stringify(humanValue)}, last REST edit ${JSON.stringify(last)}`] : [];
            return [...unsynced(server.repoGitDir(agent), blocks), ...absent, ...restWrong].map((w) => `${agent.slice(-6)} ${w}`);
          }),
        )
      ).flat();
    const wrongBlocks = await until('every block as main says', async () => ((await wrong()).length === 0 ? [] : undefined), 90_000).catch(wrong);

    // Duplicates: the same commit pushed to the host, or moved into Letta, by more than one replica's step.
    const all = replicas.map((r) => r.log()).join('\n');
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    const pushed = new Map<string, number>();
    const synced = new Map<string, number>();
    for (const m of all.matchAll(/(agent-[0-9a-f-]{36}) \([a-z, -]+\): ([a-z+-]+); main ([0-9a-f]{12}|-), external ([0-9a-f]{12}|-)/g)) {
      if (/push|seed/.test(m[2])) count(pushed, `${m[1]} ${m[4]}`);
      if (/fast-forward|create-main|merge/.test(m[2])) count(synced, `${m[1]} ${m[3]}`);
    }
    for (const m of all.matchAll(/(agent-[0-9a-f-]{36}): mirrored main ([0-9a-f]{12}) to the external host \(([^)]*)\)/g)) {
      if (/push|seed/.test(m[3])) count(pushed, `${m[1]} ${m[2]}`);
      if (/fast-forward|create-main/.test(m[3])) count(synced, `${m[1]} ${m[2]}`);
    }
    for (const m of all.matchAll(/(agent-[0-9a-f-]{36}): push [0-9a-f]{12} was overwritten by a Letta server commit; merged back as ([0-9a-f]{12})/g)) count(synced, `${m[1]} ${m[2]}`);
    const dup = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n - 1, 0);
    const resyncs = (all.match(/Letta synced again/g) ?? []).length;
    const fenced = (all.match(/lost the agent's lease/g) ?? []).length;
    const freed = kills.flatMap((k) => k.freedMs);
    const taken = kills.flatMap((k) => k.takenMs);
    const fmt = (xs: number[]) => (xs.length ? `max ${(Math.max(...xs) / 1000).toFixed(1)} s, mean ${(xs.reduce((s, x) => s + x, 0) / xs.length / 1000).toFixed(1)} s over ${xs.length}` : 'none');
    console.log(
      [
        `replicas under faults, letta ${version}, seed ${SEED}, ${SECONDS} s: ${kills.length} kills -9 (${kills.filter((k) => k.held > 0).length} of a replica holding a lease): ${kills.map((k) => `${k.victim}${k.held ? `*${k.held}` : ''}`).join(' ')}`,
        `  kills at: ${kills.map((k) => `${k.at} ${k.victim}`).join(', ')}; main overwritten by a Letta copy-back: ${rewinds.length ? rewinds.join(', ') : 'never'}; pushes stuck over 90 s: ${stuck.length ? stuck.join(', ') : 'none'}`,
        `  commits reported: ${reported[a].length} through Letta, ${reported[b].length} to the host; REST edits ${rest.ok} ok, ${rest.conflict} refused (409 or cut), last one kept in a conflict ref (a push won): ${restKept.size}`,
        `  lost: ${lost.length}; blocks wrong: ${wrongBlocks.length}; duplicate pushes: ${dup(pushed)} (of ${pushed.size} commits pushed to the host); duplicate syncs: ${dup(synced)} (of ${synced.size} moved into Letta); resyncs: ${resyncs}; writes refused by fencing: ${fenced}`,
        `  failover after kill -9 of a lease holder: lease free ${fmt(freed)}; taken by a surviving replica ${fmt(taken)}`,
      ].join('\n'),
    );
    expect(stuck, logs()).toEqual([]);
    expect(lost, logs()).toEqual([]);
    expect(wrongBlocks, logs()).toEqual([]);
    expect(dup(pushed), [...pushed].filter(([, n]) => n > 1).join(', ')).toBe(0);
    expect(dup(synced), [...synced].filter(([, n]) => n > 1).join(', ')).toBe(0);
    expect(kills.filter((k) => k.held > 0).length).toBeGreaterThan(0);
    expect(Math.max(...freed, ...taken)).toBeLessThanOrEqual(10_000);
    expect(all).not.toContain(TOKEN);
  }, 600_000);
});
