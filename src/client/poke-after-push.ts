/**
 * Detached helper started by the client's pre-push (see poke.ts): once pre-push accepts the push, waits for it to
 * land, then pokes `watch`.
 * Outlives the hook and git, so it must never print (nobody reads it) and never retry for long.
 */
import { httpRequest } from '../core/http/client.js';
import { readRef } from '../git/refs.js';
import { trace } from '../core/trace.js';
import { type PokePlan, pokeRequest } from './poke.js';

/** How long a push may take before we assume it failed; the server's periodic pull covers anything we miss. */
const WAIT_MS = 120_000;
/** A ref file read (no git process), so a short period costs little and adds at most 10 ms to the poke. */
const POLL_MS = 10;

/** Whether pre-push accepted the push: `go` on stdin before its end; anything else (a refusal, a crash) is no. */
function accepted(): Promise<boolean> {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => {
      if (text.length < 16) text += c;
    });
    process.stdin.on('end', () => resolve(text.trim() === 'go'));
    process.stdin.on('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as PokePlan & { secretEnv: string };
  const secret = process.env[plan.secretEnv];
  // The push cannot land before pre-push returns, so waiting for the verdict first costs nothing.
  if (!secret || !(await accepted())) return;
  const deadline = Date.now() + WAIT_MS;
  while ((await readRef(plan.commonDir, plan.trackingRef)) !== plan.oid) {
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  trace('poke.send', plan.agentId);
  const { url, headers } = pokeRequest(plan.pokeUrl, plan.agentId, secret);
  await httpRequest(url, { method: 'POST', headers, timeoutMs: 10_000, maxBodyBytes: 4096 }).catch(() => undefined);
  trace('poke.done', plan.agentId);
}

main().catch(() => undefined);
