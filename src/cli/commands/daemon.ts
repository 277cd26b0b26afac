import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { type LogFormat, timestampedLogger } from '../../core/log.js';
import { coalescingLog } from '../../core/log-coalesce.js';
import { hasPlaceholder, validateRemoteTemplate } from '../../core/template.js';
import { EXIT } from '../exit-codes.js';
import { noPositionals, parseCommandArgs } from '../args.js';
import { untilSignal } from '../until-signal.js';

const HELP = `usage: letta-memfs-hooks daemon [options]

Client role, Letta Code's local backend: one process for every local agent on this machine, under
$LETTA_LOCAL_BACKEND_DIR or ~/.letta/lc-local-backend. Agents not set up yet (a checkout Letta Code made, or an
agent copied from another machine, whose metadata is there but no checkout) are set up with the remote template;
every agent gets the two-way round of \`pull\` every interval and soon after a local commit, and waits longer after
each failure (5 s, doubling up to 5 min). An idle round costs one request to the host and no git process. Logs
like \`watch\`. Stops cleanly on SIGTERM/SIGINT. Replaces a cron line per agent.

  --remote URL        template for agents not set up yet, {agentId} replaced (default: remote from config or
                      LETTA_MEMFS_GIT_URL, else the one template the set-up agents recorded)
  --interval <s>      seconds between rounds of every agent (default 60)
  --rescan <s>        seconds between looks for new agents (default 30)
  --once              one round of every agent, then exit; exit 1 when any failed (one line each, with the fix),
                      3 on a conflict
  --log-format <f>    text (default: ISO timestamp first) or json (one object per line)

The host token comes from LETTA_MEMFS_GIT_TOKEN (or gitTokenFile) when an agent is set up; rounds use the one
init stored in each checkout. User units: deploy/letta-memfs-hooks-daemon.service (systemd --user) and
deploy/com.letta-memfs-hooks.daemon.plist (launchd).`;

function seconds(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n < 1) throw new UserError(`--${name} must be a number of seconds, at least 1`, `e.g. --${name} ${fallback}`, EXIT.usage);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { remote: { type: 'string' }, interval: { type: 'string' }, rescan: { type: 'string' }, once: { type: 'boolean' }, 'log-format': { type: 'string' } },
    HELP,
  );
  if (!parsed) return EXIT.ok;
  noPositionals(parsed.positionals, HELP);
  const v = parsed.values;
  // Flags first, before the sync modules load: a typo fails in well under the 2 s a service manager expects.
  const interval = seconds(v.interval, 'interval', 60);
  const rescan = seconds(v.rescan, 'rescan', 30);
  const format = v['log-format'] ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UserError(`--log-format must be text or json, got ${JSON.stringify(format)}`, 'pass --log-format text or --log-format json', EXIT.usage);
  if (v.remote !== undefined) {
    validateRemoteTemplate(v.remote, '--remote');
    if (!hasPlaceholder(v.remote)) throw new UserError('--remote must contain {agentId}: the daemon sets up every local agent with it', "e.g. --remote 'https://git.example.com/agents/{agentId}.git'", EXIT.usage);
  }
  const out = timestampedLogger(format as LogFormat);
  const folded = coalescingLog(out);
  const [{ LocalDaemon }, { localBackendDir }] = await Promise.all([import('../../client/daemon/daemon.js'), import('../../client/local-backend.js')]);
  const storage = path.resolve(localBackendDir());
  const daemon = new LocalDaemon({ storage, intervalSeconds: interval, rescanSeconds: rescan, remote: v.remote, log: folded.log });

  if (v.once) {
    const outcomes = await daemon.cycle();
    folded.flush();
    const failed = outcomes.filter((o) => o.error);
    for (const o of failed) process.stdout.write(`${o.agentId}: ${o.error}\n`);
    const conflicts = outcomes.filter((o) => o.conflict).length;
    process.stdout.write(`${outcomes.length} agents, ${outcomes.filter((o) => o.setUp).length} set up, ${outcomes.filter((o) => o.idle).length} idle, ${conflicts} conflicts, ${failed.length} failures\n`);
    return failed.length > 0 ? EXIT.failed : conflicts > 0 ? EXIT.conflict : EXIT.ok;
  }

  await daemon.start();
  folded.log(`running ${daemon.agentCount} local agent(s) under ${storage} every ${interval}s`);
  await untilSignal((sig) => folded.log(`${sig}: finishing running rounds, then exiting (send it again to exit now)`));
  await daemon.stop();
  folded.flush();
  return EXIT.ok;
}

