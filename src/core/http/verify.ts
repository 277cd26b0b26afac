/** Pure pieces of request authentication shared by every signed endpoint: header access, verdicts, constant-time checks. */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Headers = Record<string, string | string[] | undefined>;

/**
 * `replayKey` identifies what the signature covers, so a replay is caught whatever the unsigned headers say (a
 * delivery id can be dropped or changed by whoever replays): the body for webhooks, `<ts>.<nonce>.<agentId>` for
 * pokes. `replayUntil` (ms) is when a replay would be refused anyway (pokes: the timestamp window).
 */
export type Verdict =
  | { ok: true; source: 'github' | 'gitea' | 'gitlab'; deliveryId?: string; event: string; replayKey: string; replayUntil: number }
  | { ok: true; source: 'poke'; agentId: string; replayKey: string; replayUntil: number }
  | { ok: false; status: number; reason: string; fix: string };

export const refuse = (status: number, reason: string, fix: string): Verdict => ({ ok: false, status, reason, fix });

export function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two strings of any length (hashing first equalises the lengths). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHmac('sha256', 'cmp').update(a).digest();
  const hb = createHmac('sha256', 'cmp').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Hex HMAC-SHA256, the signature form GitHub, Gitea and our pokes use. */
export const hmacHex = (secret: string, data: Buffer | string) => createHmac('sha256', secret).update(data).digest('hex');
