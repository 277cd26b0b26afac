import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { LATEST_LETTA, LATEST_ONLY, reporting } from './vitest.shared.js';

// Real-server end-to-end suite (test/e2e): one letta version per run, chosen by LETTA_VERSION
// (scripts/e2e/run.mjs runs 0.16.7 then 0.16.8). Files run one after another: each starts its own
// Letta servers and the machine has 2 cores.
export default defineConfig({
  test: {
    ...reporting(`e2e-${process.env.LETTA_VERSION}`),
    // Hook runtimes that init installs (src/install/runtime.ts) go here, not to ~/.local/share (test/runtime-setup.ts).
    env: { XDG_DATA_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-test-data-')) },
    include: ['test/e2e/**/*.e2e.test.ts'],
    exclude: process.env.LETTA_VERSION === LATEST_LETTA ? [] : LATEST_ONLY,
    globalSetup: ['test/runtime-setup.ts', 'test/e2e/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
  },
});
