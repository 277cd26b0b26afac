/** Bounded fuzz of GET /healthz (and whatever else the mutants hit) on a real watch process. */
import { expect, it } from 'vitest';
import { fuzz } from './fuzz.js';
import { req, type WatchProc, useWatch } from './watch-process.js';

let w: WatchProc;
useWatch((x) => (w = x));

it('survives thousands of mutated health checks', async () => {
  const seeds = () => [req(['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'Content-Length: 0']), req(['HEAD /healthz HTTP/1.1', 'Host: x', 'Content-Length: 0']), req(['GET /healthz?verbose=1 HTTP/1.0', 'Content-Length: 0'])];
  const f = await fuzz(w, 'GET /healthz', seeds, { count: 3000, seed: 0x5eed03 });
  expect(f.sent).toBe(3000);
}, 90_000);
