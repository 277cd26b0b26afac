import { UserError } from '../../core/errors.js';
import { type ListenAddress, parseListenAddress } from '../../core/http/index.js';
import { addSecret, type LogFormat, timestampedLogger } from '../../core/log.js';
import { coalescingLog } from '../../core/log-coalesce.js';
import { EXIT } from '../exit-codes.js';
import { failureLines } from '../outcome-lines.js';
import { DEFAULT_POLICY } from '../../server/repo/maintenance.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { untilSignal } from '../until-signal.js';
import { JSON_FLAG, printJson } from '../json.js';
import { METRICS_FLAGS, METRICS_HELP, metricsAddress, startMetricsListener } from '../server/metrics-listener.js';

const HELP = `usage: letta-memfs-hooks watch [--memfs-root <dir>] [options]

Server role, one process for every agent: pushes commits the Letta server makes to the external remote (it polls
the ref files), pulls every agent periodically and on push webhooks and client pokes, retries undelivered syncs,
and sets up agent repos created later. Stops cleanly on SIGTERM/SIGINT.

  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --interval <s>      seconds between pulls of every agent (default: pollIntervalSeconds, 60)
  --rescan <s>        seconds between scans for new agent repos (default 30)
  --host <addr>       webhook endpoint address, an IP or localhost (default: webhookHost, 127.0.0.1)
  --port <n>          webhook endpoint port, 0-65535 (default: webhookPort, 8284; 0 picks a free one)
  --no-listen         no webhook endpoint
  --once              one pass (scan, pull every agent, retry pending syncs), then exit; exit 1 when anything
                      failed (one line each, with the fix), 3 on a conflict
  --json              with --once: the pass's result as one JSON document (counts, and failures with their fix)
  --log-format <f>    text (default: ISO timestamp first) or json (one object per line)
  --no-maintain       no repo.git maintenance (by default a repo with 256 loose objects or 8 packs is packed, and
                      what the pack replaces deleted after the grace period; see maintain --help)
  --maintain-grace <s> that grace period in seconds (default 300)
  --redis-url <url>   Letta's Redis, redis://host[:port] (default: LETTA_REDIS_HOST / LETTA_REDIS_PORT, as Letta)
${METRICS_HELP}

Replicas: with Letta's Redis, any number of watch (and serve) processes can run for one Letta; each agent's work
runs holding its lease (letta-memfs-hooks:lease:<agent>, 5 s, renewed), so it runs once at a time, moves to
another replica within 10 s of a crash, and a replica that lost the lease cannot move main or push. Without
Redis, run one watch.

Webhooks: POST /webhook from GitHub, Gitea/Forgejo (HMAC-SHA256) or GitLab (token), push events only; pokes:
POST /poke/<agentId> signed as the README's Poke paragraph says; GET /healthz; GET /metrics (as on --metrics-port:
pulls, pushes, syncs, latencies, pending syncs, conflicts, repo.git state, memory; no agent id, no secret needed).
The secret is read from the env var named by webhookSecretEnv (default LETTA_MEMFS_WEBHOOK_SECRET); without it
the endpoint stays off. An endpoint that cannot listen (port taken, address not on this machine) ends watch with
exit code 1.`;

const NAMES = { host: '--host (webhookHost)', port: '--port (webhookPort)' };

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UserError(`--${name} must be a non-negative number, got ${JSON.stringify(v)}`, `e.g. --${name} 60`, 2);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'memfs-root': { type: 'string' },
      config: { type: 'string' },
      interval: { type: 'string' },
      rescan: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'no-listen': { type: 'boolean' },
      once: { type: 'boolean' },
      'log-format': { type: 'string' },
      'no-maintain': { type: 'boolean' },
      'maintain-grace': { type: 'string' },
      'redis-url': { type: 'string' },
      ...JSON_FLAG,
      ...METRICS_FLAGS,
    },
    HELP,
  );
  if (!parsed) return 0;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  // Flags first, before the server modules load: a typo fails in well under the 2 s a service manager expects.
  parseListenAddress(v.host ?? '127.0.0.1', v.port ?? 0, NAMES);
  const metricsAddr = metricsAddress(v);
  if (metricsAddr && v.once) throw new UserError('--metrics-port is for a running watch, not --once', 'drop --metrics-port, or --once', EXIT.usage);
  if (v.json && !v.once) throw new UserError('--json is for watch --once (a running watch logs; see --log-format json)', 'add --once, or pass --log-format json instead', EXIT.usage);
  const format = v['log-format'] ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UserError(`--log-format must be text or json, got ${JSON.stringify(format)}`, 'pass --log-format text or --log-format json', EXIT.usage);
  // Timestamped; per-agent lines with one shared cause (Letta down) fold into one line per cycle.
  const out = timestampedLogger(format as LogFormat);
  const folded = coalescingLog(out);
  const logLine = folded.log;
  const warn = (m: string) => out(`warning: ${m}`);
  const [{ loadServerContext }, { Watcher }, { daemonRegistry, watchMetrics }, { redisOf }, { Leases }] = await Promise.all([
    import('../../server/setup/context.js'),
    import('../../server/watch/watcher.js'),
    import('../../server/metrics/registry.js'),
    import('../../server/letta/redis-lock.js'),
    import('../../server/letta/lease.js'),
  ]);
  const redis = redisOf(v['redis-url'], process.env);
  const leases = redis ? new Leases({ redis }) : undefined;
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const interval = num(v.interval, 'interval') ?? ctx.config.pollIntervalSeconds;
  if (interval < 1) throw new UserError('--interval must be at least 1 second', 'e.g. --interval 60', 2);
  const secret = process.env[ctx.config.webhookSecretEnv] || undefined;
  addSecret(secret);
  // Checked even when the endpoint stays off: a typo should not wait for the day the secret is set.
  const addr = parseListenAddress(v.host ?? ctx.config.webhookHost, v.port ?? ctx.config.webhookPort, NAMES);
  let listen: ListenAddress | undefined;
  if (!v['no-listen'] && !v.once) {
    if (secret) listen = addr;
    else warn(`webhook endpoint off: ${ctx.config.webhookSecretEnv} is not set (fix: export it, or pass --no-listen to silence this)`);
  }
  const rescan = num(v.rescan, 'rescan') ?? 30;
  const grace = num(v['maintain-grace'], 'maintain-grace');
  const maintenance = v['no-maintain'] ? false : { ...DEFAULT_POLICY, ...(grace === undefined ? {} : { graceMs: grace * 1000 }) };
  // A running watch also exports process metrics (memory, event loop); --once has no endpoint to serve them on.
  const metrics = watchMetrics(v.once ? undefined : daemonRegistry());
  const watcher = new Watcher({ ctx, intervalSeconds: interval, rescanSeconds: Math.max(rescan, 0.1), listen, listenNames: NAMES, secret, maintenance, leases, redis, log: logLine, metrics });

  if (v.once) {
    const r = await watcher.cycle({ pullAll: true });
    folded.flush();
    const failures = watcher.outcomes.flatMap(failureLines);
    const code = failures.length > 0 ? EXIT.failed : r.conflicts > 0 ? EXIT.conflict : EXIT.ok;
    if (v.json) {
      printJson({ ...r, failures });
      return code;
    }
    for (const f of failures) process.stdout.write(f + '\n');
    process.stdout.write(
      `${r.agents} agents (${r.newAgents} new), ${r.pulls} pulls, ${r.syncCalls} sync calls, ${r.conflicts} conflicts, ${failures.length} failures\n`,
    );
    return code;
  }

  let metricsListener: Awaited<ReturnType<typeof startMetricsListener>> | undefined;
  try {
    // Before the scan: a port that cannot be had ends watch at once, like the webhook endpoint's.
    if (metricsAddr) metricsListener = await startMetricsListener(metrics.registry, metricsAddr, logLine);
    await watcher.start();
  } catch (err) {
    await metricsListener?.stop();
    // Nothing may keep the process alive after a failed start (timers, a half-open endpoint): systemd restarts it.
    await watcher.stop();
    throw err;
  }
  if (metricsListener) logLine(`metrics on ${metricsListener.url}`);
  const a = watcher.address;
  logLine(`watching ${ctx.memfsRoot} every ${interval}s${a ? `, webhooks on http://${a.address}:${a.port}/webhook, metrics on /metrics` : ''}${leases ? `; replica ${leases.holder}, agents' leases in Redis at ${redis!.host}:${redis!.port}` : ''}`);
  await untilSignal((sig) => logLine(`${sig}: finishing running pulls, then exiting (send it again to exit now)`));
  await Promise.all([watcher.stop(), metricsListener?.stop()]);
  folded.flush();
  return 0;
}
