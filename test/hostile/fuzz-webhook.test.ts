/** Bounded fuzz of POST /webhook on a real watch process: it stays up, answers, and its memory stays bounded. */
import { expect, it } from 'vitest';
import { fuzz } from './fuzz.js';
import { hmac, post, pushPayload, raw, SECRET, type WatchProc, useWatch } from './watch-process.js';

let w: WatchProc;
useWatch((x) => (w = x));

it('survives thousands of mutated webhook deliveries', async () => {
  let n = 0;
  const seeds = () => {
    const body = pushPayload(w, { n: n++ });
    const form = `payload=${encodeURIComponent(body)}`;
    return [
      post('/webhook', ['X-GitHub-Event: push', `X-GitHub-Delivery: d-${n}`, `X-Hub-Signature-256: sha256=${hmac(body)}`, 'Content-Type: application/json'], body),
      post('/webhook', ['X-Gitea-Event: push', `X-Gitea-Signature: ${hmac(body)}`], body),
      post('/webhook', ['X-Gitlab-Event: Push Hook', `X-Gitlab-Token: ${SECRET}`], body),
      post('/webhook', ['X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${hmac(form)}`, 'Content-Type: application/x-www-form-urlencoded'], form),
    ];
  };
  const f = await fuzz(w, 'POST /webhook', seeds, { count: 3000, seed: 0x5eed01 });
  expect(f.sent).toBe(3000);
  const again = pushPayload(w, { n: 'final' });
  const r = await raw(w.port, post('/webhook', ['X-GitHub-Event: push', `X-Hub-Signature-256: sha256=${hmac(again)}`], again));
  expect(r.status).toBe(202);
}, 90_000);
