/**
 * Pure routing of the memfs git service: which repo and git service a request may reach, or why not.
 *
 * Letta's proxy (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7, `proxy_git_http`) forwards
 * `/v1/git/{path}` to `{LETTA_MEMFS_SERVICE_URL}/git/{path}`, keeping a path prefix of the URL, and for
 * `{agent}/state.git/...` overwrites `X-Organization-Id` with the actor's org after checking the actor may access
 * the agent. We put the secret in that prefix: `/<secret>/git/<agent>/state.git/<rest>`. Anything else is refused,
 * matched against the raw URL: no percent-decoding, so `%2e%2e` or `%2f` can never become a path segment. For other
 * paths the proxy checks nothing and forwards the client's headers, so the org header proves nothing on its own:
 * access.ts asks Letta whether the actor may reach the agent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isAgentId } from '../../core/agent-id.js';

export type GitService = 'git-upload-pack' | 'git-receive-pack';

export type Route =
  | { ok: true; kind: 'advertise' | 'rpc'; service: GitService; org: string; agent: string; protocol?: string; actor?: string }
  | { ok: false; status: number; reason: string };

// Letta org ids are `org-<uuid4>` (letta/schemas/organization.py @ 0.16.7); the header is set by the proxy.
const ORG_ID = /^org-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Letta user ids (letta/schemas/user.py @ 0.16.7): the actor header `user_id` the proxy forwards from the client.
const USER_ID = /^user-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A dot segment or an encoded dot, slash or backslash: the path was not the one Letta's proxy checked (its own
// check reads the second segment only), so nothing is decided from it.
const UNNORMAL = /(^|\/)\.{1,2}(\/|$)|%2e|%2f|%5c|\\|\/\//i;
const PATH = /^\/([^/?#]*)\/git\/([^/?#]+)\/state\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
// What git sends in Git-Protocol (gitprotocol-http(5)): `version=2`, colon-separated key[=value] items.
const GIT_PROTOCOL = /^[A-Za-z0-9._=:-]{1,64}$/;

export function isOrgId(value: string): boolean {
  return ORG_ID.test(value);
}

/** Unreserved URL characters only, so that the secret arrives in the path exactly as configured. */
export const SECRET_PATTERN = /^[A-Za-z0-9._~-]{24,256}$/;

/** Constant-time equality that does not leak the length either: both sides are hashed first. */
export function secretMatches(given: string, secret: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v : undefined;
}

const refuse = (status: number, reason: string): Route => ({ ok: false, status, reason });

/**
 * Decides a request. Wrong or missing secret: 404, the same answer as an unknown path, so a scanner learns nothing.
 * `reason` is for our log and never contains the path, the secret or a header value.
 */
export function route(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, secret: string): Route {
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q + 1);
  if (UNNORMAL.test(path)) return refuse(400, 'path has dot segments or encoded separators');
  const m = PATH.exec(path);
  if (!m) {
    // Still compare a secret-shaped first segment, so a near miss costs the same time as a hit.
    const first = /^\/([^/?#]*)/.exec(path)?.[1] ?? '';
    return refuse(404, secretMatches(first, secret) ? 'unknown path' : 'wrong or missing prefix');
  }
  const [, given, agent, rest] = m;
  if (!secretMatches(given, secret)) return refuse(404, 'wrong or missing prefix');
  if (!isAgentId(agent)) return refuse(404, 'not an agent id');
  const org = header(headers, 'x-organization-id');
  if (!org || !isOrgId(org)) return refuse(400, 'missing or malformed X-Organization-Id');
  const protoHeader = header(headers, 'git-protocol');
  if (headers['git-protocol'] !== undefined && (protoHeader === undefined || !GIT_PROTOCOL.test(protoHeader))) {
    return refuse(400, 'malformed Git-Protocol');
  }
  const protocol = protoHeader;
  // No actor header means Letta's default user; a malformed or repeated one is not taken as none.
  const actor = headers.user_id;
  if (actor !== undefined && (typeof actor !== 'string' || !USER_ID.test(actor))) return refuse(400, 'malformed user_id');
  if (rest === 'info/refs') {
    if (method !== 'GET') return refuse(405, 'info/refs needs GET');
    const params = new URLSearchParams(query);
    const service = params.get('service');
    // Dumb HTTP (no service) is not offered: it would serve files of repo.git directly.
    if (service !== 'git-upload-pack' && service !== 'git-receive-pack') return refuse(403, 'smart HTTP only (service=git-upload-pack|git-receive-pack)');
    return { ok: true, kind: 'advertise', service, org, agent, protocol, actor };
  }
  if (method !== 'POST') return refuse(405, `${rest} needs POST`);
  const type = header(headers, 'content-type');
  if (type !== `application/x-${rest}-request`) return refuse(415, `content type must be application/x-${rest}-request`);
  const enc = header(headers, 'content-encoding');
  if (enc !== undefined && enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'identity') return refuse(415, 'unsupported Content-Encoding');
  if (headers['content-encoding'] !== undefined && enc === undefined) return refuse(415, 'unsupported Content-Encoding');
  return { ok: true, kind: 'rpc', service: rest as GitService, org, agent, protocol, actor };
}

/** The pkt-line that starts a smart HTTP v0/v1 advertisement (gitprotocol-http(5)); v2 has none. */
export function advertisementPrefix(service: GitService, protocol: string | undefined): Buffer {
  if (protocol && /(^|:)version=2(:|$)/.test(protocol)) return Buffer.alloc(0);
  const line = `# service=${service}\n`;
  return Buffer.from(`${(line.length + 4).toString(16).padStart(4, '0')}${line}0000`);
}
