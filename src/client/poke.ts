/**
 * The client's push notification to the server's `watch` (POST <pokeUrl>/poke/<agentId>, signed as
 * src/sync/poke-signature.ts `signPoke`), so the server pulls at once instead of at its next periodic pull.
 *
 * git has no post-push hook, and pre-push runs before anything is sent. So pre-push starts a small detached process
 * (poke-after-push.ts) as it begins, so that node's start overlaps the checks and the push; tells it the checks'
 * verdict; and the waiter, once accepted, waits until git records the push as done, by `refs/remotes/<remote>/main`
 * reaching the pushed commit, and then pokes. It reads the ref file rather than running git, and gives up after a
 * while if the push failed. No extra hook runs on the hot path (checkouts, pulls), and git never waits for the network.
 */
import { spawn } from 'node:child_process';
import { entryPath } from '../core/package.js';
import { signPoke } from '../sync/poke-signature.js';
import { mainUpdates } from '../validate/push.js';

export interface PokePlan {
  agentId: string;
  pokeUrl: string;
  /** Ref that reaches `oid` once the push is through. */
  trackingRef: string;
  oid: string;
  commonDir: string;
}

/**
 * Pure: whether (and what) to poke after a push. Only a push of main to a named remote (whose tracking ref git
 * updates on success), only with a poke URL and a secret to sign with.
 */
export function planPoke(o: {
  agentId: string;
  pokeUrl?: string;
  secret?: string;
  remote: string;
  updates: readonly { remoteRef: string; localOid: string }[];
  commonDir: string;
}): PokePlan | undefined {
  if (!o.pokeUrl || !o.secret || !/^[\w.-]+$/.test(o.remote)) return undefined;
  const [main] = mainUpdates(o.updates);
  if (!main) return undefined;
  return { agentId: o.agentId, pokeUrl: o.pokeUrl, trackingRef: `refs/remotes/${o.remote}/main`, oid: main.localOid, commonDir: o.commonDir };
}

/** Pure: the signed request. */
export function pokeRequest(pokeUrl: string, agentId: string, secret: string, now = Math.floor(Date.now() / 1000)) {
  return { url: `${pokeUrl.replace(/\/+$/, '')}/poke/${encodeURIComponent(agentId)}`, headers: signPoke(secret, agentId, now) };
}

/** The started waiter, told the pre-push checks' verdict exactly once. */
export interface PokeWaiter {
  /** The checks passed: the waiter pokes once the push lands. */
  accept(): void;
  /** The checks refused (or failed): the waiter ends without poking. */
  cancel(): void;
}

/**
 * Starts the waiter, detached, and returns at once. The plan goes in argv (no secret in it); the secret stays in the
 * environment under the name `secretEnv`, which the waiter inherits. The verdict goes over its stdin: `go` then
 * end-of-file to accept; end-of-file alone (a refusal, or this process dying first) means no poke, so nothing is
 * poked unless the checks passed, even when the tracking ref already names the pushed commit.
 */
export function startPokeWaiter(plan: PokePlan, secretEnv: string): PokeWaiter {
  const child = spawn(process.execPath, [entryPath('poke-after-push'), JSON.stringify({ ...plan, secretEnv })], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  // No node to start, or a waiter already gone (EPIPE): no poke; the server's periodic pull covers the push.
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  child.unref();
  return {
    accept: () => void child.stdin!.end('go\n'),
    cancel: () => {
      child.stdin!.destroy();
      child.kill();
    },
  };
}
