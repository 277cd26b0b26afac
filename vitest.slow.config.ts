import { defineConfig } from 'vitest/config';
import { reporting, SLOW, unitTest } from './vitest.shared.js';

// `npm run test:slow`, before the e2e suite: the suites npm test leaves out (SLOW in vitest.shared.ts).
export default defineConfig({
  test: {
    ...unitTest,
    ...reporting('slow'),
    env: { ...unitTest.env, LMH_INTERLEAVINGS: process.env.LMH_INTERLEAVINGS ?? '1000' },
    include: SLOW,
  },
});
