#!/usr/bin/env node
// Entry point of every installed hook: `node dist/runtime/hook.mjs <hook> <git's args...>`, stdin as git gave it. Each
// handler is its own chunk, loaded only for its hook.
import { runHook } from '../../hooks/runner.js';

runHook({
  'pre-push': () => import('./pre-push.js'),
  'post-merge': () => import('./post-merge.js'),
  'post-checkout': () => import('./post-checkout.js'),
  'reference-transaction': () => import('./reference-transaction.js'),
});
