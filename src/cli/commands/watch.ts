import { UserError } from '../../core/errors.js';
import { addSecret, logLine, warn } from '../../core/log.js';
import { loadServerContext } from '../../server/setup/context.js';
import { DEFAULT_POLICY } from '../../server/repo/maintenance.js';
import { Watcher } from '../../server/watch/watcher.js';
import { parseCommandArgs } from '../args.js';

const HELP = `usage: letta-memfs-hooks watch [--memfs-root <dir>] [options]

Server role, one process for every agent: pushes commits the Letta server makes to the external remote (it polls
the ref files), pulls every agent periodically and on push webhooks and client pokes, retries undelivered syncs,
and sets up agent repos created later. Stops cleanly on SIGTERM/SIGINT.

  --memfs-root <dir>  the Letta memfs root (default: memfsRoot from config, LETTA_MEMFS_ROOT)
  --config <file>     config file
  --interval <s>      seconds between pulls of every agent (default: pollIntervalSeconds, 60)
  --rescan <s>        seconds between scans for new agent repos (default 30)
  --host <addr>       webhook endpoint address (default: webhookHost, 127.0.0.1)
  --port <n>          webhook endpoint port (default: webhookPort, 8284; 0 picks a free one)
  --no-listen         no webhook endpoint
  --once              one pass (scan, pull every agent, retry pending syncs), then exit
  --no-maintain       no repo.git maintenance (by default a repo with 256 loose objects or 8 packs is packed, and
                      what the pack replaces deleted after the grace period; see maintain --help)
  --maintain-grace <s> that grace period in seconds (default 300)

Webhooks: POST /webhook from GitHub, Gitea/Forgejo (HMAC-SHA256) or GitLab (token), push events only; pokes:
POST /poke/<agentId> signed as described in deploy/README.md. The secret is read from the env var named by
webhookSecretEnv (default LETTA_MEMFS_WEBHOOK_SECRET); without it the endpoint stays off.`;

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
      'no-maintain': { type: 'boolean' },
      'maintain-grace': { type: 'string' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  const ctx = await loadServerContext({ memfsRoot: v['memfs-root'], configFile: v.config });
  const interval = num(v.interval, 'interval') ?? ctx.config.pollIntervalSeconds;
  if (interval < 1) throw new UserError('--interval must be at least 1 second', 'e.g. --interval 60', 2);
  const secret = process.env[ctx.config.webhookSecretEnv] || undefined;
  addSecret(secret);
  let listen: { host: string; port: number } | undefined;
  if (!v['no-listen'] && !v.once) {
    if (secret) listen = { host: v.host ?? ctx.config.webhookHost, port: num(v.port, 'port') ?? ctx.config.webhookPort };
    else warn(`webhook endpoint off: ${ctx.config.webhookSecretEnv} is not set (fix: export it, or pass --no-listen to silence this)`);
  }
  const rescan = num(v.rescan, 'rescan') ?? 30;
  const grace = num(v['maintain-grace'], 'maintain-grace');
  const maintenance = v['no-maintain'] ? false : { ...DEFAULT_POLICY, ...(grace === undefined ? {} : { graceMs: grace * 1000 }) };
  const watcher = new Watcher({ ctx, intervalSeconds: interval, rescanSeconds: Math.max(rescan, 0.1), listen, secret, maintenance, log: logLine });

  if (v.once) {
    const r = await watcher.cycle({ pullAll: true });
    process.stdout.write(
      `${r.agents} agents (${r.newAgents} new), ${r.pulls} pulls, ${r.syncCalls} sync calls, ${r.conflicts} conflicts, ${r.errors} errors\n`,
    );
    return r.errors > 0 ? 1 : r.conflicts > 0 ? 3 : 0;
  }

  try {
    await watcher.start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UserError(`port ${listen?.port} on ${listen?.host} is taken`, 'pass --port <n> (or set webhookPort), or stop the other watch');
    }
    throw err;
  }
  const a = watcher.address;
  logLine(`watching ${ctx.memfsRoot} every ${interval}s${a ? `, webhooks on http://${a.address}:${a.port}/webhook` : ''}`);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      logLine(`${sig}: finishing running pulls, then exiting`);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await watcher.stop();
  return 0;
}
