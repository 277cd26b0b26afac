// One series' setup in bench/propagation: a fresh agent, a client checkout, and whatever carries a push to the
// agent's blocks in that topology (watch, Letta's own proxy sync), started with the series' maintenance setting.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GitHost } from '../../test/fixtures/git-host.js';
import type { Front } from './floor.js';
import { CLI, CliProcess, cliOk } from '../../test/e2e/helpers/cli.js';
import { Client } from '../../test/e2e/helpers/client.js';
import type { Rest } from '../../test/e2e/helpers/rest.js';
import { freePort, type LettaServer } from '../../test/e2e/helpers/server.js';

export type Topology = 'patched' | 'direct' | 'host' | 'floor';
export type Mode = 'event' | 'polling' | 'push';

/** A client whose hooks poke watch after each push to main, as a configured Letta Code checkout's do. */
export class PokingClient extends Client {
  constructor(agentId: string, settings: ConstructorParameters<typeof Client>[1], private readonly poke: Record<string, string>) {
    super(agentId, settings);
  }
  override env(): NodeJS.ProcessEnv {
    return { ...super.env(), ...this.poke };
  }
}
export type Maintenance = 'off' | 'on';

export interface SeriesSpec {
  topology: Topology;
  mode: Mode;
  maintenance: Maintenance;
}

/** A Letta server with what the toolkit needs around it. */
export interface Site {
  server: LettaServer;
  api: Rest;
  host: GitHost;
  /** Environment for the CLI's server role against this server. */
  env: NodeJS.ProcessEnv;
  /** `init --server --mode`: how watch gets external commits into this server. */
  mode: 'patched' | 'stock';
}

export interface RigOptions {
  pollInterval: number;
  maintGrace: number;
  /** direct topology, maintenance on: seconds between `maintain` runs (what an operator's cron would do). */
  maintEvery: number;
  webhookSecret: string;
  lettaKey: string;
}

export interface Rig {
  agentId: string;
  blockId: string;
  client: Client;
  /** The client's push, as that topology's client runs it. */
  push(): void;
  /** Its git arguments (the load bench runs them asynchronously). */
  pushArgs: string[];
  /** What tells the server side about the push (event mode: a poke); nothing otherwise. */
  notify(): Promise<void>;
  /** Watch's or maintain's output, for a failure message. */
  log(): string;
  stop(): Promise<void>;
}

const run = promisify(execFile);

async function waitForEndpoint(port: number, w: CliProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`watch endpoint did not come up; output:\n${w.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** patched and host: the client pushes to the external host; `watch` pulls it and gets it to Letta. */
async function viaWatch(site: Site, spec: SeriesSpec, o: RigOptions, agentId: string): Promise<Omit<Rig, 'agentId' | 'blockId'>> {
  const remote = `${site.host.url}/agents/{agentId}.git`;
  cliOk(['init', '--server', '--memfs-root', site.server.memfsRoot, '--remote', remote, '--letta-url', site.server.url, '--mode', site.mode, '--agent', agentId], site.env);
  cliOk(['watch', '--once', '--no-maintain'], site.env); // seeds the external repo
  const maint = spec.maintenance === 'on' ? ['--maintain-grace', String(o.maintGrace)] : ['--no-maintain'];
  const port = await freePort();
  // Event mode: the client's own pre-push pokes (poke.ts, poke-after-push.ts), as a user's checkout does.
  const poke: Record<string, string> = spec.mode === 'event' ? { LETTA_MEMFS_POKE_URL: `http://127.0.0.1:${port}`, LETTA_MEMFS_WEBHOOK_SECRET: o.webhookSecret } : {};
  const client = new PokingClient(agentId, { remote, lettaUrl: site.server.url, token: site.host.token }, poke);
  client.init();
  let w: CliProcess;
  if (spec.mode === 'event') {
    w = await CliProcess.start(['watch', '--host', '127.0.0.1', '--port', String(port), '--interval', '3600', ...maint], site.env);
    await waitForEndpoint(port, w);
  } else {
    w = await CliProcess.start(['watch', '--no-listen', '--interval', String(o.pollInterval), ...maint], site.env);
  }
  return {
    client,
    push: () => client.git('push', '-q', 'origin', 'main'),
    pushArgs: ['push', '-q', 'origin', 'main'],
    notify: async () => {},
    log: () => w.log,
    stop: async () => {
      await w.stop();
    },
  };
}

/**
 * direct: the client pushes straight to Letta's /v1/git/<agent>/state.git with Letta Code's argv (letta-code
 * src/agent/memoryGit.ts: extraHeader Basic letta:<key>, no credential helper); Letta's proxy hands it to `serve`
 * and runs its own block sync. No watch: maintenance on is `letta-memfs-hooks maintain` every maintEvery seconds.
 */
async function direct(site: Site, spec: SeriesSpec, o: RigOptions, agentId: string): Promise<Omit<Rig, 'agentId' | 'blockId'>> {
  const client = new Client(agentId, { remote: `${site.host.url}/agents/{agentId}.git`, lettaUrl: site.server.url, token: site.host.token });
  const lc = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`letta:${o.lettaKey}`).toString('base64')}`, '-c', 'credential.helper=', '-c', 'core.askPass='];
  client.git('init', '-q', '-b', 'main');
  client.git('remote', 'add', 'origin', `${site.server.url}/v1/git/${agentId}/state.git`);
  client.git(...lc, 'pull', '-q', 'origin', 'main');
  let log = '';
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  if (spec.maintenance === 'on') {
    const args = [CLI, 'maintain', '--agent', agentId, '--memfs-root', site.server.memfsRoot, '--grace', String(o.maintGrace)];
    timer = setInterval(() => {
      running = run(process.execPath, args, { env: { ...process.env, ...site.env } }).then(
        (r) => (log += r.stdout + r.stderr),
        (err: Error) => (log += `maintain failed: ${err.message}\n`),
      );
    }, o.maintEvery * 1000);
  }
  return {
    client,
    push: () => client.git(...lc, 'push', '-q', 'origin', 'main'),
    pushArgs: [...lc, 'push', '-q', 'origin', 'main'],
    notify: async () => {},
    log: () => log,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * floor: Letta Code's push straight to Letta's proxy, as direct, for an agent whose requests the bench's front
 * (floor.ts) hands to a bare git http-backend instead of `serve`.
 */
export async function startRig(site: Site, spec: SeriesSpec, o: RigOptions, front?: Front): Promise<Rig> {
  const agent = await site.api.createAgent(`bench-${spec.topology}-${spec.mode}-${spec.maintenance}`);
  // Every agent gets its external repo, also in direct series: a `watch` sets up every agent it finds.
  await site.host.createRepo(`agents/${agent.id}.git`);
  if (spec.topology === 'floor') await front!.addFloorAgent(agent.id);
  const rig = spec.topology === 'direct' || spec.topology === 'floor' ? await direct(site, spec, o, agent.id) : await viaWatch(site, spec, o, agent.id);
  const blockId = (await site.api.blockByLabel(agent.id, 'system/human'))!.id;
  return { ...rig, agentId: agent.id, blockId };
}

/** A plain push to the external host (no hooks, no poke): the host's share of the floor of host and patched. */
export async function plainHostPush(host: GitHost): Promise<{ push(tag: string): number; remove(): void }> {
  const url = await host.createRepo(`bench/plain-${Date.now()}.git`, { files: { 'system/human.md': 'plain\n' } });
  const client = new Client('agent-00000000-0000-4000-8000-000000000000', { remote: url, lettaUrl: '', token: host.token });
  const auth = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`${host.user}:${host.token}`).toString('base64')}`];
  client.git('init', '-q', '-b', 'main');
  client.git('remote', 'add', 'origin', url);
  client.git(...auth, 'pull', '-q', 'origin', 'main');
  return {
    push(tag: string): number {
      client.write('system/human.md', `plain ${tag}\n`);
      client.git('commit', '-q', '-am', `plain ${tag}`);
      const t0 = performance.now();
      client.git(...auth, 'push', '-q', 'origin', 'main');
      return performance.now() - t0;
    },
    remove: () => client.remove(),
  };
}

/**
 * The load bench's agents of one watch path: `n` agents with poking clients and one `watch` (event mode, no
 * maintenance) for all of them, as one server with many agents runs it.
 */
export async function startWatchGroup(site: Site, o: RigOptions, n: number, label: string): Promise<{ rigs: Rig[]; stop(): Promise<void> }> {
  const remote = `${site.host.url}/agents/{agentId}.git`;
  const port = await freePort();
  const poke = { LETTA_MEMFS_POKE_URL: `http://127.0.0.1:${port}`, LETTA_MEMFS_WEBHOOK_SECRET: o.webhookSecret };
  const agents: string[] = [];
  for (let i = 0; i < n; i++) {
    const agent = await site.api.createAgent(`load-${label}-${i}`);
    await site.host.createRepo(`agents/${agent.id}.git`);
    cliOk(['init', '--server', '--memfs-root', site.server.memfsRoot, '--remote', remote, '--letta-url', site.server.url, '--mode', site.mode, '--agent', agent.id], site.env);
    agents.push(agent.id);
  }
  cliOk(['watch', '--once', '--no-maintain'], site.env); // seeds the external repos
  const rigs: Rig[] = [];
  const w = await CliProcess.start(['watch', '--host', '127.0.0.1', '--port', String(port), '--interval', '3600', '--no-maintain'], site.env);
  await waitForEndpoint(port, w);
  for (const agentId of agents) {
    const client = new PokingClient(agentId, { remote, lettaUrl: site.server.url, token: site.host.token }, poke);
    client.init();
    const blockId = (await site.api.blockByLabel(agentId, 'system/human'))!.id;
    const args = ['push', '-q', 'origin', 'main'];
    rigs.push({ agentId, blockId, client, push: () => client.git(...args), pushArgs: args, notify: async () => {}, log: () => w.log, stop: async () => {} });
  }
  return { rigs, stop: () => w.stop().then(() => undefined) };
}
