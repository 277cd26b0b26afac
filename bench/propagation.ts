// Push-to-block-updated latency against a real (patched) letta server, over long series of pushes.
//
//   npm run build && npx vite-node bench/propagation.ts
//   env: LETTA_VERSION (default 0.16.7); BENCH_PUSHES pushes per series (default 1000); BENCH_SERIES_SECONDS stops a
//        series early after that long (default: none); BENCH_MODES (default event,polling); BENCH_MAINTENANCE
//        (default off,on); BENCH_POLL_INTERVAL (watch --interval for polling, default 2); BENCH_MAINT_GRACE
//        (watch --maintain-grace in seconds with maintenance on, default 60).
//
// One series per mode and maintenance setting, each with a fresh agent (its repo.git starts small), its own
// external repo on a real git http-backend on 127.0.0.1, and a client checkout set up with the toolkit's `init`.
// For each push: write system/human.md with a new value, commit, then time from the start of `git push` until
// GET /v1/blocks/{id} returns the new value. Modes:
//   event   `watch` with its webhook endpoint; right after the push the client pokes it (POST /poke/<agentId>,
//           signed as src/server/watch/webhook.ts signPoke), as a client-side hook would;
//   polling `watch --no-listen --interval <s>`: no notification, the periodic pull finds it.
// Maintenance off: `watch --no-maintain` (repo.git only grows: every Letta read and commit copies all of it);
// on: watch's own maintenance (a pack at 256 loose objects, deletions after the grace period).
// Prints per series p50/p99 of the first 50 and the last 50 pushes, repo.git's file count and size at the end,
// and one JSON line. Goals (issue 11): last 50 within 1.2x of the first 50; event-driven p50 <= 1 s, p99 <= 2 s.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { startGitHost } from '../test/fixtures/git-host.js';
import { CliProcess, cliOk } from '../test/e2e/helpers/cli.js';
import { Client } from '../test/e2e/helpers/client.js';
import { lettaVersion } from '../test/e2e/helpers/env.js';
import { blockFile } from '../test/e2e/helpers/repo.js';
import { Rest } from '../test/e2e/helpers/rest.js';
import { DEFAULT_ORG, freePort, LettaServer } from '../test/e2e/helpers/server.js';
import { prepareLetta } from '../test/e2e/helpers/venv.js';
import { agentRepoPath } from '../src/server/repo/discover.js';
import { countObjectFiles, repoFileStats } from '../src/server/repo/maintain-repo.js';
import { signPoke } from '../src/server/watch/webhook.js';

const PUSHES = Number(process.env.BENCH_PUSHES ?? 1000);
const SERIES_SECONDS = Number(process.env.BENCH_SERIES_SECONDS ?? Infinity);
const MODES = (process.env.BENCH_MODES ?? 'event,polling').split(',') as ('event' | 'polling')[];
const MAINTENANCE = (process.env.BENCH_MAINTENANCE ?? 'off,on').split(',') as ('off' | 'on')[];
const POLL_INTERVAL = Number(process.env.BENCH_POLL_INTERVAL ?? 2);
const MAINT_GRACE = Number(process.env.BENCH_MAINT_GRACE ?? 60);
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
  const clients: Client[] = [];
  try {
    const api = new Rest(server.url);
    const env: NodeJS.ProcessEnv = {
      LETTA_MEMFS_ROOT: server.memfsRoot,
      LETTA_MEMFS_GIT_URL: `${host.url}/agents/{agentId}.git`,
      LETTA_BASE_URL: server.url,
      LETTA_MEMFS_GIT_TOKEN: token,
      LETTA_MEMFS_WEBHOOK_SECRET: secret,
    };
    let seq = 0;
    async function measure(c: Client, blockId: string, label: string, notify: () => Promise<void>): Promise<{ samples: number[]; failures: number }> {
      const samples: number[] = [];
      let failures = 0;
      const started = performance.now();
      for (let i = 0; i < PUSHES && performance.now() - started < SERIES_SECONDS * 1000; i++) {
        const value = `bench ${label} ${++seq} ${randomBytes(4).toString('hex')}`;
        c.write('system/human.md', blockFile({ description: 'What I know about the human' }, value));
        c.git('commit', '-q', '-am', `bench ${seq}`);
        const t0 = performance.now();
        c.git('push', '-q', 'origin', 'main');
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
        process.stderr.write(`\r${label}: ${i + 1}/${PUSHES}`);
      }
      process.stderr.write('\n');
      return { samples, failures };
    }

    const series: Record<string, unknown>[] = [];
    for (const mode of MODES) {
      for (const maint of MAINTENANCE) {
        const label = `${mode}/maintenance-${maint}`;
        const agent = await api.createAgent(`bench-${mode}-${maint}`);
        await host.createRepo(`agents/${agent.id}.git`);
        cliOk(['watch', '--once', '--no-maintain'], env); // sets the new agent repo up and seeds its external repo
        const c = new Client(agent.id, { remote: `${host.url}/agents/{agentId}.git`, lettaUrl: server.url, token });
        clients.push(c);
        c.init();
        const blockId = (await api.blockByLabel(agent.id, 'system/human'))!.id;
        const maintFlags = maint === 'on' ? ['--maintain-grace', String(MAINT_GRACE)] : ['--no-maintain'];
        let notify = async () => {};
        let w: CliProcess;
        if (mode === 'event') {
          const port = await freePort();
          w = await CliProcess.start(['watch', '--host', '127.0.0.1', '--port', String(port), '--interval', '3600', ...maintFlags], env);
          const deadline = Date.now() + 20_000;
          for (;;) {
            try {
              await fetch(`http://127.0.0.1:${port}/`);
              break;
            } catch {
              if (Date.now() > deadline) throw new Error(`watch endpoint did not come up; output:\n${w.log}`);
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          notify = async () => {
            const r = await fetch(`http://127.0.0.1:${port}/poke/${agent.id}`, { method: 'POST', headers: signPoke(secret, agent.id) });
            if (r.status >= 300) throw new Error(`poke answered ${r.status}: ${await r.text()}`);
          };
        } else {
          w = await CliProcess.start(['watch', '--no-listen', '--interval', String(POLL_INTERVAL), ...maintFlags], env);
        }
        watchers.push(w);
        const m = await measure(c, blockId, label, notify);
        await w.stop();
        const gitDir = agentRepoPath(server.memfsRoot, DEFAULT_ORG, agent.id);
        const [files, objects] = await Promise.all([repoFileStats(gitDir), countObjectFiles(gitDir)]);
        const first = summary(m.samples.slice(0, 50));
        const last = summary(m.samples.slice(-50));
        series.push({ mode, maintenance: maint, pushes: m.samples.length + m.failures, failures: m.failures, first50: first, last50: last, all: summary(m.samples), repoGit: { ...files, ...objects }, samples: m.samples.map(Math.round) });
      }
    }

    const fmt = (n: number) => `${(n / 1000).toFixed(2)} s`;
    process.stdout.write(`letta ${version}; maintenance grace ${MAINT_GRACE} s; polling interval ${POLL_INTERVAL} s\n`);
    process.stdout.write('| mode | maintenance | pushes | first 50 p50 / p99 | last 50 p50 / p99 | last/first p50 | repo.git files | size | loose / packs |\n|---|---|---|---|---|---|---|---|---|\n');
    for (const r of series as any[]) {
      process.stdout.write(
        `| ${r.mode} | ${r.maintenance} | ${r.pushes}${r.failures ? ` (${r.failures} failed)` : ''} | ${fmt(r.first50.p50)} / ${fmt(r.first50.p99)} | ${fmt(r.last50.p50)} / ${fmt(r.last50.p99)} | ${(r.last50.p50 / r.first50.p50).toFixed(2)}x | ${r.repoGit.files} | ${(r.repoGit.bytes / 1024).toFixed(0)} KiB | ${r.repoGit.loose} / ${r.repoGit.packs} |\n`,
      );
    }
    process.stdout.write(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (2 cores; other work on the machine skews these figures)\n`);
    process.stdout.write(JSON.stringify({ letta: version, graceSeconds: MAINT_GRACE, series, loadAverage: os.loadavg() }) + '\n');
    if ((series as any[]).some((r) => r.failures > 0)) process.exitCode = 1;
  } finally {
    for (const w of watchers) await w.stop();
    for (const c of clients) c.remove();
    await Promise.all([server.stop(), host.close()]);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/propagation: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
