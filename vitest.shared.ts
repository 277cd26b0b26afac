import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The suites that take minutes or download something: `npm run test:slow` (vitest.slow.config.ts), not `npm test`. */
export const SLOW = [
  // 1,000 randomized interleavings (~25 min on 2 cores); npm test runs the same property on 10 (LMH_INTERLEAVINGS).
  'test/server/no-loss.property.test.ts',
  // Real Letta Code releases, installed from npm into ~/.cache/letta-memfs-hooks on first run (~440 MB).
  'test/client/letta-code.test.ts',
  'test/client/local-backend.test.ts',
  // Real Letta Code 0.34.12 from its PyPI wheel (~80 MB download, extracted into ~/.cache/letta-memfs-hooks).
  'test/client/letta-code-v2.test.ts',
  'test/client/local-merge-audit.test.ts',
  'test/client/letta-code-pypi-local.test.ts',
  // A fresh HOME's init --all clone, used by real Letta Code 0.34.12 (PyPI) without a first commit of its own.
  'test/client/first-checkout-letta-code.test.ts',
  'test/client/daemon.test.ts',
  // The real oracles, differential: Letta Code's own checker and the Letta server's own frontmatter parser (the
  // pip-installed letta 0.16.8 venv).
  'test/oracle/letta-code-checker.test.ts',
  'test/oracle/letta-server-frontmatter.test.ts',
  // The README's first command verbatim in a fresh copy of the clone (npm ci, npm pack, npm install).
  'test/install/first-screen.test.ts',
  // Robustness suites that spend most of their time in many CLI processes, lock timeouts and fuzz rounds (each 15-95 s
  // on 2 cores; together a third of npm test's time): npm test keeps the hostile suites that check one rule a case.
  'test/hostile/redirects.test.ts',
  'test/hostile/lock.test.ts',
  'test/hostile/config.test.ts',
  'test/hostile/wedge.test.ts',
  'test/hostile/fuzz-webhook.test.ts',
  'test/hostile/fuzz-health.test.ts',
  'test/hostile/fuzz-poke.test.ts',
  'test/server/scale-git-calls.test.ts',
  'test/client/harness-lease.test.ts',
  'test/client/letta-code-replay.test.ts',
];

/**
 * e2e files that run against the newest supported Letta only (0.16.8): the issues that asked for them name that
 * version, and the whole suite runs once per version, so each file here costs CI one real-server run, not two.
 */
export const LATEST_LETTA = '0.16.8';
export const LATEST_ONLY: string[] = [
  // issue 23: /metrics scraped around a round trip.
  'test/e2e/metrics.e2e.test.ts',
  // issue 19: restore a server from the host, both modes.
  'test/e2e/restore.e2e.test.ts',
  // Issue 20: two watch and two serve replicas killed and restarted for two minutes (~5 min in all).
  'test/e2e/replicas-fault.e2e.test.ts',
];

/**
 * With LMH_REPORT_DIR set (.ci/run), each run also writes a JSON report, `<dir>/<name>.json`, which .ci/run counts;
 * the README's commands stay the same with or without it.
 */
export function reporting(name: string) {
  const dir = process.env.LMH_REPORT_DIR;
  return dir ? { reporters: ['default', 'json'], outputFile: { json: path.join(dir, `${name}.json`) } } : {};
}

/** Options both unit configs share; hook runtimes that init installs go to a data dir of this run (test/runtime-setup.ts). */
export const unitTest = {
  env: { XDG_DATA_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-test-data-')) },
  globalSetup: ['test/runtime-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  poolOptions: { forks: { maxForks: 2, minForks: 1 } },
};
