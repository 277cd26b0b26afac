/**
 * Detached helper started by the client's pre-push (see poke.ts): waits for the push to land, then pokes `watch`.
 * Runs after git has returned, so it must never print (nobody reads it) and never retry for long.
 */
import { httpRequest } from '../core/http/client.js';
import { readRef } from '../git/refs.js';
import { trace } from '../core/trace.js';
import { type PokePlan, pokeRequest } from './poke.js';

/** How long a push may take before we assume it failed; the server's periodic pull covers anything we miss. */
const WAIT_MS = 120_000;
const POLL_MS = 100;

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? '{}') as PokePlan & { secretEnv: string };
  const secret = process.env[plan.secretEnv];
  if (!secret) return;
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
