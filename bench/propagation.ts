// Push-to-block-updated latency against a real (patched) letta server.
//
//   npm run build && npx vite-node bench/propagation.ts
//   env: LETTA_VERSION (default 0.16.7), BENCH_PUSHES (default 50), BENCH_POLL_INTERVAL (watch --interval for the
//        polling mode, seconds, default 2)
//
// One agent, one client checkout (set up with the toolkit's `init`), the external host is a real git
// http-backend on 127.0.0.1. For each push: write system/human.md with a new value, commit, then time from the
// start of `git push` until GET /v1/blocks/{id} returns the new value. Two modes:
//   event   `watch` with its webhook endpoint; right after the push the client pokes it (POST /poke/<agentId>,
//           signed as src/server/webhook.ts signPoke), as a client-side hook would;
//   polling `watch --no-listen --interval <s>`: no notification, the periodic pull finds it.
// Prints p50/p90/p99/max per mode and one JSON line. Goal (issue 4): event-driven p50 <= 1 s, p99 <= 2 s.
import { randomBytes } from 'node:crypto';
import { startGitHost } from '../test/fixtures/git-host.js';
import { CliProcess, cliOk } from '../test/e2e/helpers/cli.js';
import { Client } from '../test/e2e/helpers/client.js';
import { lettaVersion } from '../test/e2e/helpers/env.js';
import { blockFile } from '../test/e2e/helpers/repo.js';
import { Rest } from '../test/e2e/helpers/rest.js';
import { freePort, LettaServer } from '../test/e2e/helpers/server.js';
import { prepareLetta } from '../test/e2e/helpers/venv.js';
import { signPoke } from '../src/server/watch/webhook.js';

const PUSHES = Number(process.env.BENCH_PUSHES ?? 50);
const POLL_INTERVAL = Number(process.env.BENCH_POLL_INTERVAL ?? 2);
const PER_PUSH_TIMEOUT_MS = 30_000;

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length); // nearest-rank
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function main(): Promise<void> {
  const version = lettaVersion();
  const install = prepareLetta(version);
  const token = `bench-${randomBytes(8).toString('hex')}`;
  const secret = randomBytes(16).toString('hex');
  const [server, host] = await Promise.all([
    LettaServer.start({ venv: install.venv, patchedDir: install.patched, name: 'bench' }),
    startGitHost({ user: 'git', token }),
  ]);
  const watchers: CliProcess[] = [];
  let client: Client | undefined;
  try {
    const api = new Rest(server.url);
    const agent = await api.createAgent('bench');
    await host.createRepo(`agents/${agent.id}.git`);
    const env: NodeJS.ProcessEnv = {
      LETTA_MEMFS_ROOT: server.memfsRoot,
      LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
      LETTA_BASE_URL: server.url,
      LETTA_MEMFS_GIT_TOKEN: token,
      LETTA_MEMFS_WEBHOOK_SECRET: secret,
    };
    cliOk(['watch', '--once'], env); // sets the agent repo up and seeds the external repo
    client = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token });
    client.init();
    const blockId = (await api.blockByLabel(agent.id, 'system/human'))!.id;

    let seq = 0;
    async function measure(mode: string, notify: () => Promise<void>): Promise<{ samples: number[]; pushes: number[]; failures: number }> {
      const samples: number[] = [];
      const pushes: number[] = [];
      let failures = 0;
      for (let i = 0; i < PUSHES; i++) {
        const value = `bench ${mode} ${++seq} ${randomBytes(4).toString('hex')}`;
        client!.write('system/human.md', blockFile({ description: 'What I know about the human' }, value));
        client!.git('commit', '-q', '-am', `bench ${seq}`);
        const t0 = performance.now();
        client!.git('push', '-q', 'origin', 'main');
        pushes.push(performance.now() - t0);
        await notify();
        let done = false;
        while (performance.now() - t0 < PER_PUSH_TIMEOUT_MS) {
          const r = await api.call('GET', `/v1/blocks/${blockId}`);
          if (r.status === 200 && r.json.value === value) {
            done = true;
            break;
          }
          await new Promise((res) => setTimeout(res, 20));
        }
        if (done) samples.push(performance.now() - t0);
        else failures++;
        process.stderr.write(`\r${mode}: ${i + 1}/${PUSHES}`);
      }
      process.stderr.write('\n');
      return { samples, pushes, failures };
    }

    // Event-driven: watch with its endpoint; the client pokes right after each push.
    const port = await freePort();
    const ev = await CliProcess.start(['watch', '--host', '127.0.0.1', '--port', String(port), '--interval', '3600'], env);
    watchers.push(ev);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await fetch(`http://127.0.0.1:${port}/`);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`watch endpoint did not come up; output:\n${ev.log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const event = await measure('event', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/poke/${agent.id}`, { method: 'POST', headers: signPoke(secret, agent.id) });
      if (r.status >= 300) throw new Error(`poke answered ${r.status}: ${await r.text()}`);
    });
    await ev.stop();

    // Polling: no notification, the periodic pull of every agent finds the push.
    const poll = await CliProcess.start(['watch', '--no-listen', '--interval', String(POLL_INTERVAL)], env);
    watchers.push(poll);
    const polling = await measure(`polling(${POLL_INTERVAL}s)`, async () => {});
    await poll.stop();

    const result = {
      letta: version,
      pushes: PUSHES,
      event: { ...summary(event.samples), failures: event.failures, gitPush: summary(event.pushes), samples: event.samples.map(Math.round) },
      polling: {
        intervalSeconds: POLL_INTERVAL,
        ...summary(polling.samples),
        failures: polling.failures,
        gitPush: summary(polling.pushes),
        samples: polling.samples.map(Math.round),
      },
      loadAverage: (await import('node:os')).loadavg(),
    };
    const fmt = (n: number) => `${(n / 1000).toFixed(3)} s`;
    for (const [name, r] of [
      ['event-driven (poke)', result.event],
      [`polling (--interval ${POLL_INTERVAL})`, result.polling],
    ] as const) {
      process.stdout.write(
        `${name.padEnd(24)} n=${r.n} failures=${r.failures} p50=${fmt(r.p50)} p90=${fmt(r.p90)} p99=${fmt(r.p99)} max=${fmt(r.max)} mean=${fmt(r.mean)} (git push alone: p50=${fmt(r.gitPush.p50)})\n`,
      );
    }
    process.stdout.write(`load average at the end: ${result.loadAverage.map((l) => l.toFixed(2)).join(' ')} (2 cores; other work on the machine skews these figures)\n`);
    process.stdout.write(`goal event-driven p50 <= 1 s: ${result.event.p50 <= 1000 ? 'met' : 'NOT met'}; p99 <= 2 s: ${result.event.p99 <= 2000 ? 'met' : 'NOT met'}\n`);
    process.stdout.write(JSON.stringify(result) + '\n');
    if (event.failures > 0 || polling.failures > 0) process.exitCode = 1;
  } finally {
    for (const w of watchers) await w.stop();
    client?.remove();
    await Promise.all([server.stop(), host.close()]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/propagation: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
