import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { parseListenAddress, reachableUrl } from '../../core/http/index.js';
import { addSecret, timestampedLogger } from '../../core/log.js';
import { discoverAgents, noAgentsYetLine } from '../../server/repo/discover.js';
import { loadServiceSecret, SECRET_ENV } from '../../server/memfs-service/secret.js';
import { MemfsService } from '../../server/memfs-service/server.js';
import { AccessCheck } from '../../server/memfs-service/access.js';
import { checkServiceHooks, createServiceHooks } from '../../server/memfs-service/hooks-dir.js';
import { HookChannels } from '../../server/memfs-service/hook-channel.js';
import { AfterPush } from '../../server/memfs-service/after-push.js';
import { Mirror } from '../../server/memfs-service/mirror.js';
import { loadServerContext } from '../../server/setup/context.js';
import { redisOf } from '../../server/letta/redis-lock.js';
import { Leases } from '../../server/letta/lease.js';
import { daemonRegistry, serveMetrics } from '../../server/metrics/registry.js';
import { METRICS_FLAGS, METRICS_HELP, metricsAddress, startMetricsListener } from '../server/metrics-listener.js';
import { parseCommandArgs } from '../args.js';
import { untilSignal } from '../until-signal.js';

const HELP = `usage: letta-memfs-hooks serve --memfs-root <dir> --letta-url <url> [options]

The memfs git service for an unpatched Letta server: smart HTTP (clone, fetch, push) for every agent's
<memfs-root>/repository/<org>/<agent>/repo.git, reached through Letta's own /v1/git/ proxy. Point Letta at it with
  LETTA_MEMFS_SERVICE_URL=http://<host>:<port>/<secret>
Before any git runs, Letta is asked (GET /v1/agents/<id>, as the actor its proxy forwarded) whether that actor may
reach the agent: no is 403, no answer 503 (verdicts kept 30 s). Only refs/heads/main can be pushed; every new object
of a push is checked (size, binary), and main's tree like the client's pre-push (non-UTF-8 files, frontmatter,
read_only); non-fast-forward pushes and deletions are refused. Repos are never created here (Letta does).

  --memfs-root <dir>     the Letta memfs root (default: LETTA_MEMFS_ROOT)
  --host <addr>          listen address (default 127.0.0.1)
  --port <n>             listen port (default 8285; 0 picks a free one, printed on start)
  --secret-file <file>   file holding the secret (mode 0600); otherwise ${SECRET_ENV}
  --max-body-mb <n>      largest request body, before and after gunzip (default 64)
  --max-backends <n>     git processes at once (default 4); up to --queue more wait, the rest get 503.
                         One agent gets at most half of each (rounded up), so it cannot starve the others;
                         connections are capped at 2 x (backends + queue) + 16
  --queue <n>            requests waiting for a git process (default 16)
  --timeout <s>          longest request (default 600); 60 s without a byte either way also ends it, and a
                         connection that has not sent its request headers within 10 s is closed
  --letta-url <url>      Letta itself (required; password from LETTA_SERVER_PASSWORD): who may reach which agent;
                         after a push that changed system/,
                         wait for Letta's own block sync, then POST /v1/agents/<id>/recompile; and a push that a
                         Letta server commit overwrote is merged back and pushed in again through Letta's proxy;
                         and at each check Letta's blocks are compared with main, and Letta made to sync again
                         (an empty push through its proxy) when a post-push sync was lost or overtaken
  --check-after <s>      check that main still holds an accepted push this long after it (default 3), again
                         every 30 s while it is recorded (90 s)
  --config <file>        the server config file init --server wrote, when not the one in the memfs root
  --redis-url <url>      Letta's Redis, redis://host[:port] (default: LETTA_REDIS_HOST / LETTA_REDIS_PORT, as Letta)
${METRICS_HELP}

A push that moved main is mirrored to the agent's external host at once (the letta-memfs remote init --server set
up, with the token from its env var or 0600 file, as watch uses): the same reconcile as watch's, without the block
sync (Letta's proxy ran it). Pushes of one agent within 250 ms are one mirror; a failed mirror is retried after
5 s, doubling up to 5 min, and the push itself never waits for it. A repo not set up with init --server is noted
once and not mirrored.

Metrics (--metrics-port): requests by status, refused pushes by rule, git processes and queue depth, mirrors,
recompiles, the push-to-block latency, memory.

When Letta uses Redis (LETTA_REDIS_HOST, LETTA_REDIS_PORT: set the same here), a push moves main only while holding
Letta's own commit lock (memory_repo:lock:<agent>), waiting up to 15 s for a Letta commit that holds it.
Replicas: with Redis, any number of serve (and watch) processes can run for one Letta; each agent's mirror and
push checks run holding its lease (letta-memfs-hooks:lease:<agent>, 5 s, renewed), so they run once at a time,
move to another replica within 10 s of a crash, and a replica that lost the lease pushes nothing. Without Redis,
run one serve.`;

function int(v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`, `e.g. --${name} ${def}`, 2);
  return n;
}

/** The service's bounds from their flags (usage errors when out of range). */
function serviceLimits(v: { 'max-body-mb'?: string; 'max-backends'?: string; queue?: string; timeout?: string }) {
  const totalTimeoutMs = int(v.timeout, 'timeout', 600, 1, 86_400) * 1000;
  return {
    maxBodyBytes: int(v['max-body-mb'], 'max-body-mb', 64, 1, 4096) * 1024 * 1024,
    maxBackends: int(v['max-backends'], 'max-backends', 4, 1, 256),
    maxQueued: int(v.queue, 'queue', 16, 0, 10_000),
    idleTimeoutMs: Math.min(60_000, totalTimeoutMs),
    totalTimeoutMs,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'memfs-root': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'secret-file': { type: 'string' },
      'max-body-mb': { type: 'string' },
      'max-backends': { type: 'string' },
      queue: { type: 'string' },
      timeout: { type: 'string' },
      'letta-url': { type: 'string' },
      'check-after': { type: 'string' },
      config: { type: 'string' },
      'redis-url': { type: 'string' },
      ...METRICS_FLAGS,
    },
    HELP,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  if (parsed.positionals.length > 0) throw new UserError(`serve takes no positional argument (got ${parsed.positionals.length}, not shown: it may be a secret)`, 'the secret never goes on the command line: use --secret-file or ' + SECRET_ENV, 2);
  const rootArg = v['memfs-root'] ?? process.env.LETTA_MEMFS_ROOT;
  if (!rootArg) throw new UserError('no memfs root given', 'pass --memfs-root /path/to/.letta/memfs (or set LETTA_MEMFS_ROOT)', 2);
  const memfsRoot = path.resolve(rootArg);
  // Missing is fine (a fresh host: Letta creates it with its first agent, and each repo is served once it exists);
  // something else there is not.
  const st = await stat(memfsRoot).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UserError(`memfs root ${memfsRoot} is not a directory`, 'pass the directory Letta stores memfs repos in (~/.letta/memfs of the server user)');
  // Timestamped: a long-running process's log (core/log.ts).
  const logLine = timestampedLogger('text');
  const warn = (line: string) => logLine(`warning: ${line}`);
  const listenNames = { host: '--host', port: '--port' };
  const { host, port } = parseListenAddress(v.host ?? '127.0.0.1', v.port ?? '8285', listenNames);
  const metricsAddr = metricsAddress(v);
  const limits = serviceLimits(v);
  const secret = await loadServiceSecret(process.env, v['secret-file']);
  addSecret(secret);
  if (!isLoopback(host)) warn(`listening on ${host}: plain HTTP, the secret in the URL is readable on the network (fix: keep the service on a private network or loopback)`);

  const lettaUrl = v['letta-url']?.replace(/\/+$/, '');
  // Fail closed: without Letta nobody can say whether the actor the proxy forwarded may reach an agent.
  if (lettaUrl === undefined) throw new UserError('no --letta-url given: serve asks Letta who may reach each agent', 'pass --letta-url http://127.0.0.1:8283 (the Letta server whose proxy forwards to serve)', 2);
  if (!/^https?:\/\/[^/@\s]+$/.test(lettaUrl)) {
    throw new UserError('--letta-url must be http(s)://host[:port], without credentials or a path', 'e.g. --letta-url http://127.0.0.1:8283', 2);
  }
  const password = process.env.LETTA_SERVER_PASSWORD || undefined;
  addSecret(password);
  const checkAfterMs = int(v['check-after'], 'check-after', 3, 1, 600) * 1000;
  const redis = redisOf(v['redis-url'], process.env);
  const leases = redis ? new Leases({ redis }) : undefined;
  const log = (line: string) => logLine(`serve: ${line}`);
  const ctx = await loadServerContext({ memfsRoot, configFile: v.config, lettaUrl });
  addSecret(process.env[ctx.config.gitTokenEnv]);
  // The queue gauges read the service's slots at scrape time (the service is made below).
  let service: MemfsService | undefined;
  const metrics = serveMetrics(metricsAddr ? daemonRegistry() : undefined, { running: () => service?.backends.running ?? 0, waiting: () => service?.backends.waiting ?? 0 });
  const mirror = new Mirror({ ctx, leases, debounceMs: 250, retryMs: 5_000, maxRetryMs: 300_000, log, metrics });
  const afterPush = new AfterPush({
    mirror: (repo) => mirror.request(repo),
    letta: { baseUrl: lettaUrl, password, timeoutMs: 30_000, retries: 2 },
    checkAfterMs,
    recheckMs: 30_000,
    leases,
    log,
    metrics,
  });
  const hooks = await createServiceHooks(memfsRoot);
  service = new MemfsService({
    memfsRoot,
    secret,
    host,
    port,
    ...limits,
    listenNames,
    // Every running and waiting request, twice over (Letta's proxy keeps idle connections), and some slack.
    maxConnections: 2 * (limits.maxBackends + limits.maxQueued) + 16,
    checkHooks: () => checkServiceHooks(hooks),
    hooks: { dir: hooks.dir, channels: await HookChannels.create(hooks.channelsDir) },
    log,
    // Every request reaches us through Letta's proxy, which waits for us without a timeout (facts §6): a busy Letta
    // is slow, not gone, and 5 s refused a third of 20 agents' pushes under load (bench/propagation.md).
    access: new AccessCheck({ lettaUrl, password, timeoutMs: 30_000, ttlMs: 30_000, maxEntries: 10_000 }),
    redis,
    onReceivePack: (push) => afterPush.onPush(push),
    metrics,
  });
  const addr = await service.start();
  // Its own listener, never under the secret path: a scraper needs no secret, and the git routes stay unguessable.
  const metricsListener = metricsAddr ? await startMetricsListener(metrics.registry, metricsAddr, log).catch(async (err: unknown) => {
    await service!.stop();
    throw err;
  }) : undefined;
  if (metricsListener) logLine(`serve: metrics on ${metricsListener.url}`);
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  if (redis) logLine(`serve: pushes take Letta's commit lock in Redis at ${redis.host}:${redis.port}; mirrors and checks hold each agent's lease (replica ${leases!.holder})`);
  logLine(`serve: memfs git service for ${memfsRoot} on http://${shown}:${addr.port}/<secret> (set LETTA_MEMFS_SERVICE_URL=${reachableUrl(addr.address, addr.port)}/<secret>)`);
  const found = await discoverAgents(memfsRoot);
  if (found.noRepositoryYet) logLine(`serve: ${noAgentsYetLine(found.noRepositoryYet)}`);
  await untilSignal((sig) => logLine(`serve: ${sig}: finishing running requests, then exiting (send it again to exit now)`));
  await service.stop();
  await metricsListener?.stop();
  await afterPush.stop();
  await mirror.stop();
  return 0;
}
