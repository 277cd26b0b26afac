import { createHash } from 'node:crypto';
import { isAgentId } from '../../core/agent-id.js';
import { HttpError } from '../../core/http/reply.js';
import { parseTarget } from '../../core/http/target.js';
import { header, type Headers, hmacHex, refuse, safeEqual, type Verdict } from '../../core/http/verify.js';
import { verifyPoke } from '../../sync/poke-signature.js';
import { AGENT_PLACEHOLDER } from '../../core/template.js';
import { MAIN } from '../../git/refs.js';

/** Largest accepted request body. A memory-repo push payload is a few KiB; GitHub caps its own at 25 MB. */
export const MAX_BODY_BYTES = 256 * 1024;
/**
 * Pure: whether a request is an authentic push notification (facts file, section 4):
 * - Gitea/Forgejo: `X-Gitea-Event: push`, `X-Gitea-Signature: <hex HMAC-SHA256(body)>`, `X-Gitea-Delivery`
 *   (checked before GitHub's headers, which Gitea sends too);
 * - GitHub: `X-GitHub-Event: push`, `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery`;
 * - GitLab: `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token: <secret>`, `X-Gitlab-Event-UUID`;
 * - our pokes (see sync/poke-signature.ts).
 * The signature is checked before anything else is believed; refusing a `replayKey` seen before is the caller's
 * (stateful, see DeliveryLog). The path is decoded safely (core/http parseTarget): any string gives a verdict.
 */
export function verifyRequest(method: string, url: string, h: Headers, body: Buffer, secret: string, nowSeconds = Date.now() / 1000): Verdict {
  let segments: string[];
  try {
    segments = parseTarget(url).segments;
  } catch (err) {
    if (err instanceof HttpError) return refuse(err.status, err.message, err.fix);
    throw err;
  }
  const isPoke = segments.length === 2 && segments[0] === 'poke';
  if (!isPoke && !(segments.length === 1 && segments[0] === 'webhook')) return refuse(404, 'unknown path', 'POST to /webhook or /poke/<agentId>');
  if (method !== 'POST') return refuse(405, `${method.slice(0, 16)} is not allowed here`, 'use POST');
  if (body.length > MAX_BODY_BYTES) return refuse(413, 'body too large', `send at most ${MAX_BODY_BYTES} bytes`);
  if (isPoke) return verifyPoke(segments[1], h, secret, nowSeconds);
  const webhookFix = 'set the same secret in the webhook settings and in LETTA_MEMFS_WEBHOOK_SECRET (webhookSecretEnv)';
  // One key per body whatever the headers say: GitHub's and Gitea's signatures are the same HMAC of the body, so a
  // delivery replayed under the other's headers (or GitLab's, whose token covers no body) is still the same delivery.
  const replayKey = `webhook:${createHash('sha256').update(body).digest('hex')}`;

  const giteaEvent = header(h, 'x-gitea-event') ?? header(h, 'x-forgejo-event');
  if (giteaEvent !== undefined) {
    const sig = header(h, 'x-gitea-signature') ?? header(h, 'x-forgejo-signature') ?? '';
    if (!safeEqual(sig.toLowerCase(), hmacHex(secret, body))) return refuse(401, 'bad signature', webhookFix);
    const deliveryId = header(h, 'x-gitea-delivery') ?? header(h, 'x-forgejo-delivery');
    return { ok: true, source: 'gitea', event: giteaEvent, deliveryId, replayKey, replayUntil: Infinity };
  }
  const githubEvent = header(h, 'x-github-event');
  if (githubEvent !== undefined) {
    const sig = header(h, 'x-hub-signature-256') ?? '';
    if (!safeEqual(sig.toLowerCase(), `sha256=${hmacHex(secret, body)}`)) return refuse(401, 'bad signature', webhookFix);
    return { ok: true, source: 'github', event: githubEvent, deliveryId: header(h, 'x-github-delivery'), replayKey, replayUntil: Infinity };
  }
  const gitlabEvent = header(h, 'x-gitlab-event');
  if (gitlabEvent !== undefined) {
    if (!safeEqual(header(h, 'x-gitlab-token') ?? '', secret)) return refuse(401, 'bad token', webhookFix.replace('secret', 'secret token'));
    const deliveryId = header(h, 'x-gitlab-event-uuid') ?? header(h, 'idempotency-key');
    return { ok: true, source: 'gitlab', event: gitlabEvent, deliveryId, replayKey, replayUntil: Infinity };
  }
  return refuse(400, 'not a GitHub, Gitea or GitLab webhook', 'send the X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event header with its signature');
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
  // Wrong types are the sender's mistake, never a crash (`String()` of an object can throw).
  if (p.ref !== undefined && p.ref !== MAIN) return { reason: typeof p.ref === 'string' ? `push to ${p.ref.slice(0, 200)}, not main` : 'ref is not a string' };
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

/**
 * Replay keys of verified requests, each until it expires (a poke's window), at most `capacity` of them (oldest
 * dropped first): memory stays bounded, and only signed requests can add keys, so an attacker cannot flush it.
 */
export class DeliveryLog {
  private readonly keys = new Map<string, number>();
  constructor(private readonly capacity = 16_384) {}
  /** True for a replay; otherwise remembers the key. */
  seen(key: string, until: number, now = Date.now()): boolean {
    const exp = this.keys.get(key);
    if (exp !== undefined && exp >= now) return true;
    this.keys.delete(key);
    this.keys.set(key, until);
    if (this.keys.size > this.capacity) {
      for (const [k, e] of this.keys) if (e < now) this.keys.delete(k);
      for (const k of this.keys.keys()) {
        if (this.keys.size <= this.capacity) break;
        this.keys.delete(k);
      }
    }
    return false;
  }
}
