#!/usr/bin/env node
// Runs the e2e suite once per letta version, one after the other (LETTA_E2E_VERSIONS, default
// "0.16.7,0.16.8"). Extra arguments go to vitest; "{version}" in them is replaced by the version, e.g.
//   node scripts/e2e/run.mjs --reporter=default --reporter=json --outputFile.json=/tmp/e2e-{version}.json
// Exit code: non-zero when any version's run failed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const versions = (process.env.LETTA_E2E_VERSIONS ?? '0.16.7,0.16.8').split(',').map((v) => v.trim()).filter(Boolean);
const extra = process.argv.slice(2);
let status = 0;
for (const version of versions) {
  const started = Date.now();
  process.stderr.write(`\n=== e2e: letta ${version} ===\n`);
  const r = spawnSync('npx', ['vitest', 'run', '-c', 'vitest.e2e.config.ts', ...extra.map((a) => a.replaceAll('{version}', version))], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, LETTA_VERSION: version },
  });
  const code = r.status ?? 1;
  process.stderr.write(`=== e2e: letta ${version}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(0)}s ===\n`);
  if (code !== 0) status = code;
}
process.exit(status);
