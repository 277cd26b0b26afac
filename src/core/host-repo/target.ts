/**
 * Pure: which repo on which host's REST API an agent's remote URL names, for creating it when it is missing.
 * The API base is derived from the remote's host (or given as hostApiUrl), so the token only ever goes to the host
 * the remote already names, or to the one the operator wrote down.
 */
import type { HostKind } from '../config/schema.js';
import { UserError } from '../errors.js';
import { redactUrl } from '../redact.js';

export interface HostRepoTarget {
  kind: HostKind;
  /** REST API base, no trailing slash. */
  api: string;
  /** GitHub/Gitea: the user or organization; GitLab: the namespace's full path (group/subgroup). */
  owner: string;
  name: string;
  /** `owner/name`, for messages and `status`. */
  fullName: string;
}

export const HOST_NAMES: Record<HostKind, string> = { github: 'GitHub', gitea: 'Gitea/Forgejo', gitlab: 'GitLab' };

/** `{ origin, path }` of an https, ssh:// or scp-like remote; ssh hosts are asked over https on the default port. */
function split(url: string): { origin: string; path: string } | undefined {
  let m = /^(https?):\/\/([^/@]+)\/(.*)$/i.exec(url);
  if (m) return { origin: `${m[1].toLowerCase()}://${m[2]}`, path: m[3] };
  m = /^ssh:\/\/(?:[^/@]+@)?([^/:]+)(?::\d+)?\/(.*)$/i.exec(url);
  if (m) return { origin: `https://${m[1]}`, path: m[2] };
  m = /^[^/@:]+@([^/:]+):(?!\/\/)(.*)$/.exec(url);
  if (m) return { origin: `https://${m[1]}`, path: m[2] };
  return undefined;
}

export function hostRepoTarget(remoteUrl: string, kind: HostKind, apiUrl?: string): HostRepoTarget {
  const parts = split(remoteUrl);
  if (!parts) {
    throw new UserError(
      `createRepos needs a remote on a git host (https or ssh), not ${redactUrl(remoteUrl)}`,
      'unset createRepos (--create-repos) for a remote on this machine; init --local creates those itself',
    );
  }
  const segments = parts.path.replace(/\/+$/, '').replace(/\.git$/i, '').split('/').filter(Boolean);
  if (segments.length < 2) {
    throw new UserError(`the remote ${redactUrl(remoteUrl)} names no owner`, 'use https://host/<owner>/{agentId}.git');
  }
  const name = segments[segments.length - 1];
  // GitLab: every segment before the name is the namespace. GitHub and Gitea have one owner segment; anything before
  // it is the path a Gitea instance is served under (https://host/git/owner/repo.git), where its API lives too.
  const owner = kind === 'gitlab' ? segments.slice(0, -1).join('/') : segments[segments.length - 2];
  const prefix = kind === 'gitlab' ? '' : segments.slice(0, -2).map((s) => `/${s}`).join('');
  if (kind === 'github' && prefix && !apiUrl) {
    throw new UserError(`the remote ${redactUrl(remoteUrl)} is not https://host/<owner>/<repo>.git, which GitHub uses`, 'set hostApiUrl to the API base (e.g. https://ghe.example.com/api/v3)');
  }
  const host = parts.origin.replace(/^https?:\/\//, '').toLowerCase();
  const derived =
    kind === 'github' ? (host === 'github.com' ? 'https://api.github.com' : `${parts.origin}/api/v3`) : kind === 'gitea' ? `${parts.origin}${prefix}/api/v1` : `${parts.origin}/api/v4`;
  return { kind, api: (apiUrl ?? derived).replace(/\/+$/, ''), owner, name, fullName: `${owner}/${name}` };
}
