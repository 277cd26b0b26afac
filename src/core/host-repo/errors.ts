/**
 * Pure: a host API's refusal as our one-line error with its fix: the token scope each host needs to create a repo,
 * and when a rate limit lifts. The host's own message is shown cut and stripped of control characters.
 */
import type { HostKind } from '../config/schema.js';
import { UserError } from '../errors.js';
import { HOST_NAMES, type HostRepoTarget } from './target.js';

/** What a token needs on each host to see and create the agent's repo. */
export const SCOPE_FIX: Record<HostKind, string> = {
  github:
    'give the token the "repo" scope (classic token) or "Administration: Read and write" on the owner (fine-grained token); an organization must also let members create private repositories',
  gitea: 'give the token the write:repository scope plus write:user (your own repos) or write:organization (an organization\'s), and, for an organization, membership of a team that may create repos',
  gitlab: 'give the token the api scope and a role in the namespace that may create projects (Maintainer by default, or Developer when the group allows it)',
};

export interface ApiAnswer {
  status: number;
  header(name: string): string | undefined;
  json: unknown;
}

/** The host's message: GitHub/Gitea `message`, GitLab `message` (string or field -> errors) or `error`. */
export function hostMessage(json: unknown): string {
  const o = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const m = o.message ?? o.error;
  const text = typeof m === 'string' ? m : m && typeof m === 'object' ? JSON.stringify(m) : '';
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').slice(0, 200);
}

/** Whether a create refused because the repo exists (a race with another machine, or one the token cannot list). */
export function alreadyExists(kind: HostKind, a: ApiAnswer): boolean {
  const text = JSON.stringify(a.json ?? '');
  if (kind === 'github') return a.status === 422 && /already exists/i.test(text);
  if (kind === 'gitea') return a.status === 409;
  return a.status === 400 && /has already been taken/i.test(text);
}

function rateLimited(a: ApiAnswer): string | undefined {
  if (a.status !== 429 && !(a.status === 403 && (a.header('x-ratelimit-remaining') === '0' || /rate limit/i.test(hostMessage(a.json))))) return undefined;
  const reset = Number(a.header('x-ratelimit-reset'));
  const after = Number(a.header('retry-after'));
  if (Number.isFinite(after) && after > 0) return `in ${after} s`;
  if (Number.isFinite(reset) && reset > 1e9) return `after ${new Date(reset * 1000).toISOString()}`;
  return 'later';
}

/** `doing`: what we asked ("check whether ... exists", "create ..."); `tokenSource`: `$VAR` or the token file. */
export function apiError(t: HostRepoTarget, a: ApiAnswer, doing: string, tokenSource: string): UserError {
  const host = HOST_NAMES[t.kind];
  const said = hostMessage(a.json);
  const tail = said ? `: ${said}` : '';
  const when = rateLimited(a);
  if (when) return new UserError(`${host} API rate limit reached trying to ${doing} ${t.fullName}`, `wait and retry ${when} (a running watch/serve retries by itself); a token raises the limit`);
  if (a.status >= 300 && a.status < 400) {
    return new UserError(`${t.api} answered ${a.status} (a redirect, not followed: the token stays with this host)`, 'set hostApiUrl to the API base itself');
  }
  if (a.status === 401) return new UserError(`${host} refused the token from ${tokenSource} trying to ${doing} ${t.fullName}${tail}`, `check the token; ${SCOPE_FIX[t.kind]}`);
  if (a.status === 403 || a.status === 404 || a.status === 422 || a.status === 400) {
    return new UserError(`the token from ${tokenSource} may not ${doing} ${t.fullName} on ${host} (HTTP ${a.status}${tail})`, SCOPE_FIX[t.kind]);
  }
  return new UserError(`${host} API answered HTTP ${a.status} trying to ${doing} ${t.fullName}${tail}`, `check that ${t.api} is the ${host} API (set hostApiUrl otherwise) and that the host is up`);
}
