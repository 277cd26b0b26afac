import { defineConfig } from 'vitest/config';
import { reporting, SLOW, unitTest } from './vitest.shared.js';

// `npm test`: unit and integration tests, real git repos and processes, no Letta server and no download (at most
// 5 minutes on 2 cores). The slow suites are vitest.slow.config.ts; the real-server suite is vitest.e2e.config.ts.
export default defineConfig({
  test: {
    ...unitTest,
    ...reporting('unit'),
    // The no-loss property on a few interleavings here; the slow suite runs 1,000.
    env: { ...unitTest.env, LMH_INTERLEAVINGS: process.env.LMH_INTERLEAVINGS ?? '10' },
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**', ...SLOW.filter((f) => !f.includes('no-loss'))],
  },
});
