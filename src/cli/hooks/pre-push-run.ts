#!/usr/bin/env node
// The client's pre-push on its own: `node dist/runtime/pre-push.cjs pre-push <remote> <url>`, the one hook that
// starts node on a push. scripts/build-runtime.mjs bundles it as one CommonJS file, which node loads faster than
// the ES module graph of run.ts (no module resolution per chunk, no ES loader; issue 9).
import { runHook } from '../../hooks/runner.js';

runHook({ 'pre-push': () => import('./pre-push.js') });
