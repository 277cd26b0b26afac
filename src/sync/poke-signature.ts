/**
 * The client poke: a signed, empty `POST /poke/<agentId>` that tells `watch` a checkout pushed. Signed by the client
 * (client/poke.ts) and checked by `watch` (server/watch/webhook.ts), so it lives below both.
 */
import { randomBytes } from 'node:crypto';
import { isAgentId } from '../core/agent-id.js';
import { header, type Headers, hmacHex, refuse, safeEqual, type Verdict } from '../core/http/verify.js';

/** A poke's timestamp may be this far from our clock. */
export const POKE_WINDOW_SECONDS = 300;

/**
 * Signs a client poke: `POST /poke/<agentId>` with headers `X-Letta-Memfs-Timestamp: <unix seconds>`,
 * `X-Letta-Memfs-Nonce: <hex>` and `X-Letta-Memfs-Signature: sha256=<hex HMAC-SHA256(secret,
 * "<timestamp>.<nonce>.<agentId>")>`, empty body. The nonce keeps two pokes in the same second from looking like
 * a replay of one another.
 */
export function signPoke(
  secret: string,
  agentId: string,
  timestamp: number = Math.floor(Date.now() / 1000),
  nonce: string = randomBytes(12).toString('hex'),
): Record<string, string> {
  return {
    'x-letta-memfs-timestamp': String(timestamp),
    'x-letta-memfs-nonce': nonce,
    'x-letta-memfs-signature': `sha256=${hmacHex(secret, `${timestamp}.${nonce}.${agentId}`)}`,
  };
}

/** Pure: whether a poke's headers are a fresh signature of `<timestamp>.<nonce>.<agentId>` with the shared secret. */
export function verifyPoke(agentId: string, h: Headers, secret: string, nowSeconds: number): Verdict {
  const fix = "sign the poke as the README's Poke paragraph says (the package ships it), with the secret in LETTA_MEMFS_WEBHOOK_SECRET on both sides";
  if (!isAgentId(agentId)) return refuse(404, 'not an agent id', 'POST to /poke/agent-<uuid>');
  const ts = Number(header(h, 'x-letta-memfs-timestamp'));
  const sig = header(h, 'x-letta-memfs-signature') ?? '';
  const nonce = header(h, 'x-letta-memfs-nonce') ?? '';
  if (!Number.isSafeInteger(ts) || Math.abs(nowSeconds - ts) > POKE_WINDOW_SECONDS) {
    return refuse(401, 'poke timestamp missing or outside the window', `send the current unix time; keep the clocks within ${POKE_WINDOW_SECONDS} s`);
  }
  if (!/^[0-9a-f]{16,64}$/.test(nonce)) return refuse(401, 'poke nonce missing', fix);
  const signed = `${ts}.${nonce}.${agentId}`;
  if (!safeEqual(sig, `sha256=${hmacHex(secret, signed)}`)) return refuse(401, 'bad signature', fix);
  // Past the window the timestamp check refuses a replay, so the key need not be kept longer.
  return { ok: true, source: 'poke', agentId, replayKey: `poke:${signed}`, replayUntil: (ts + POKE_WINDOW_SECONDS + 1) * 1000 };
}
