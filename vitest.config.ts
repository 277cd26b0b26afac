import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Unit and integration tests: real git repos and processes, no Letta server (that is vitest.e2e.config.ts).
export default defineConfig({
  test: {
    // Hook runtimes that init installs (src/install/runtime.ts) go here, not to ~/.local/share (test/runtime-setup.ts).
    env: { XDG_DATA_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-test-data-')) },
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/runtime-setup.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
