import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isAgentId } from '../../core/agent-id.js';
import { AGENT_PLACEHOLDER } from '../../core/template.js';

/** Largest accepted request body. A memory-repo push payload is a few KiB; GitHub caps its own at 25 MB. */
export const MAX_BODY_BYTES = 256 * 1024;
/** A poke's timestamp may be this far from our clock. */
export const POKE_WINDOW_SECONDS = 300;

export type Headers = Record<string, string | string[] | undefined>;

export type Verdict =
  | { ok: true; source: 'github' | 'gitea' | 'gitlab'; deliveryId?: string; event: string }
  | { ok: true; source: 'poke'; deliveryId: string; agentId: string }
  | { ok: false; status: number; reason: string };

function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two strings of any length (hashing first equalises the lengths). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHmac('sha256', 'cmp').update(a).digest();
  const hb = createHmac('sha256', 'cmp').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

const hmacHex = (secret: string, data: Buffer | string) => createHmac('sha256', secret).update(data).digest('hex');

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

/**
 * Pure: whether a request is an authentic push notification (facts file, section 4):
 * - Gitea/Forgejo: `X-Gitea-Event: push`, `X-Gitea-Signature: <hex HMAC-SHA256(body)>`, `X-Gitea-Delivery`
 *   (checked before GitHub's headers, which Gitea sends too);
 * - GitHub: `X-GitHub-Event: push`, `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery`;
 * - GitLab: `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token: <secret>`, `X-Gitlab-Event-UUID`;
 * - our pokes (see `signPoke`).
 * The signature is checked before anything else is believed; dedupe of delivery ids is the caller's (stateful).
 */
export function verifyRequest(method: string, url: string, h: Headers, body: Buffer, secret: string, nowSeconds = Date.now() / 1000): Verdict {
  if (method !== 'POST') return { ok: false, status: 405, reason: 'only POST' };
  if (body.length > MAX_BODY_BYTES) return { ok: false, status: 413, reason: 'body too large' };
  const poke = /^\/poke\/([^/?]+)$/.exec(url.split('?')[0]);
  if (poke) {
    const agentId = decodeURIComponent(poke[1]);
    const ts = Number(header(h, 'x-letta-memfs-timestamp'));
    const sig = header(h, 'x-letta-memfs-signature') ?? '';
    const nonce = header(h, 'x-letta-memfs-nonce') ?? '';
    if (!isAgentId(agentId)) return { ok: false, status: 404, reason: 'not an agent id' };
    if (!Number.isInteger(ts) || Math.abs(nowSeconds - ts) > POKE_WINDOW_SECONDS) return { ok: false, status: 401, reason: 'poke timestamp missing or outside the window' };
    if (!/^[0-9a-f]{16,64}$/.test(nonce)) return { ok: false, status: 401, reason: 'poke nonce missing' };
    if (!safeEqual(sig, `sha256=${hmacHex(secret, `${ts}.${nonce}.${agentId}`)}`)) return { ok: false, status: 401, reason: 'bad signature' };
    return { ok: true, source: 'poke', deliveryId: `poke:${sig}`, agentId };
  }
  const path = url.split('?')[0];
  if (path !== '/webhook' && path !== '/webhook/') return { ok: false, status: 404, reason: 'unknown path (use /webhook or /poke/<agentId>)' };

  const giteaEvent = header(h, 'x-gitea-event') ?? header(h, 'x-forgejo-event');
  if (giteaEvent !== undefined) {
    const sig = header(h, 'x-gitea-signature') ?? header(h, 'x-forgejo-signature') ?? '';
    if (!safeEqual(sig.toLowerCase(), hmacHex(secret, body))) return { ok: false, status: 401, reason: 'bad signature' };
    return { ok: true, source: 'gitea', event: giteaEvent, deliveryId: header(h, 'x-gitea-delivery') ?? header(h, 'x-forgejo-delivery') };
  }
  const githubEvent = header(h, 'x-github-event');
  if (githubEvent !== undefined) {
    const sig = header(h, 'x-hub-signature-256') ?? '';
    if (!safeEqual(sig.toLowerCase(), `sha256=${hmacHex(secret, body)}`)) return { ok: false, status: 401, reason: 'bad signature' };
    return { ok: true, source: 'github', event: githubEvent, deliveryId: header(h, 'x-github-delivery') };
  }
  const gitlabEvent = header(h, 'x-gitlab-event');
  if (gitlabEvent !== undefined) {
    if (!safeEqual(header(h, 'x-gitlab-token') ?? '', secret)) return { ok: false, status: 401, reason: 'bad token' };
    return { ok: true, source: 'gitlab', event: gitlabEvent, deliveryId: header(h, 'x-gitlab-event-uuid') ?? header(h, 'idempotency-key') };
  }
  return { ok: false, status: 400, reason: 'not a GitHub, Gitea or GitLab webhook' };
}

/** Pure: whether a verified event is a push (the only event that can change main). */
export function isPushEvent(source: 'github' | 'gitea' | 'gitlab', event: string): boolean {
  return source === 'gitlab' ? event === 'Push Hook' : event === 'push';
}

/** `host/path` of a git URL without scheme, user, port, trailing `.git` or slash: https and ssh forms compare equal. */
export function normalizeGitUrl(url: string): string {
  let u = url.trim();
  const scp = /^[\w.-]+@([\w.-]+):(?!\/\/)(.*)$/.exec(u);
  if (scp) u = `${scp[1]}/${scp[2]}`;
  else u = u.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^/@]*@/, '');
  const slash = u.indexOf('/');
  const host = (slash < 0 ? u : u.slice(0, slash)).replace(/:\d+$/, '').toLowerCase();
  const rest = slash < 0 ? '' : u.slice(slash);
  return (host + rest).replace(/\/+$/, '').replace(/\.git$/, '');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Pure: the agent a push payload is about, by matching its repository URLs against the remote template
 * (`{agentId}` marks the id). Only `ref: refs/heads/main` counts. The payload's `after` is never trusted: a
 * delivery only means "fetch and compare".
 */
export function agentFromPayload(payload: unknown, template: string, knownAgents?: readonly string[]): { agentId?: string; reason?: string } {
  if (typeof payload !== 'object' || payload === null) return { reason: 'payload is not a JSON object' };
  const p = payload as Record<string, any>;
  if (p.ref !== undefined && p.ref !== 'refs/heads/main') return { reason: `push to ${String(p.ref)}, not main` };
  const urls = [
    p.repository?.clone_url,
    p.repository?.ssh_url,
    p.repository?.git_url,
    p.repository?.html_url,
    p.repository?.git_http_url,
    p.repository?.git_ssh_url,
    p.repository?.url,
    p.project?.git_http_url,
    p.project?.git_ssh_url,
    p.project?.web_url,
  ].filter((u): u is string => typeof u === 'string' && u.length > 0);
  const norm = normalizeGitUrl(template);
  const idx = norm.indexOf(AGENT_PLACEHOLDER);
  for (const u of urls.map(normalizeGitUrl)) {
    if (idx < 0) {
      if (u === norm && knownAgents?.length === 1) return { agentId: knownAgents[0] };
      continue;
    }
    const re = new RegExp(`^${escapeRe(norm.slice(0, idx))}(agent-[0-9a-f-]{36})${escapeRe(norm.slice(idx + AGENT_PLACEHOLDER.length))}$`);
    const m = re.exec(u);
    if (m && isAgentId(m[1]) && (!knownAgents || knownAgents.includes(m[1]))) return { agentId: m[1] };
  }
  return { reason: 'repository matches no agent remote' };
}

/** Remembers the last `capacity` delivery ids; `seen` answers true for a replay. */
export class DeliveryLog {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity = 4096) {}
  seen(id: string): boolean {
    if (this.ids.has(id)) return true;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return false;
  }
}
