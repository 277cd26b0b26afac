/**
 * The agents a host holds repos for, for `init --all` on a new machine: the repos of the remote template's owner
 * (organization, group, or the token's own user) whose names are agent ids. Paged; one line with the fix on refusal.
 */
import { isAgentId } from '../agent-id.js';
import type { Config } from '../config/schema.js';
import { UserError } from '../errors.js';
import { AGENT_PLACEHOLDER } from '../template.js';
import { readToken } from '../token.js';
import { call } from './api.js';
import { apiError } from './errors.js';
import { type HostRepoTarget, hostRepoTarget } from './target.js';

const PAGE = 50;
const MAX_PAGES = 200;
const SAMPLE = 'agent-00000000-0000-4000-8000-000000000000';

/** Pure: the listing URLs to try for an owner, first the organization's/group's, then the user's own. */
export function listPaths(t: HostRepoTarget, page: number): string[] {
  const o = encodeURIComponent(t.owner);
  if (t.kind === 'gitlab') return [`/groups/${o}/projects?per_page=${PAGE}&page=${page}&simple=true`, `/users/${o}/projects?per_page=${PAGE}&page=${page}&simple=true`];
  if (t.kind === 'gitea') return [`/orgs/${o}/repos?limit=${PAGE}&page=${page}`, `/users/${o}/repos?limit=${PAGE}&page=${page}`];
  return [`/orgs/${o}/repos?per_page=${PAGE}&page=${page}&type=all`, `/user/repos?per_page=${PAGE}&page=${page}&affiliation=owner`];
}

/** Agent ids with a repo on the host under the template's owner; the template's last segment must be the id. */
export async function listHostAgents(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (!config.createRepos || !config.remote) return [];
  if (!/\/\{agentId\}(\.git)?\/?$|:\{agentId\}(\.git)?$/.test(config.remote) || config.remote.split(AGENT_PLACEHOLDER).length !== 2) {
    throw new UserError('cannot list the host: the remote template must end in /{agentId}.git', "use e.g. 'https://host/<owner>/{agentId}.git'");
  }
  const t = hostRepoTarget(config.remote.split(AGENT_PLACEHOLDER).join(SAMPLE), config.createRepos, config.hostApiUrl);
  const tok = await readToken(config, env);
  if (!tok) throw new UserError('cannot list the host without its token', `export ${config.gitTokenEnv}=<token> (or set gitTokenFile)`);
  const found = new Set<string>();
  let which: number | undefined;
  for (let page = 1; page <= MAX_PAGES; page++) {
    const candidates = listPaths(t, page);
    let items: unknown[] | undefined;
    for (const [i, p] of candidates.entries()) {
      if (which !== undefined && i !== which) continue;
      const a = await call(t, tok, 'GET', p);
      if (a.status === 404 && which === undefined && i === 0) continue;
      if (a.status !== 200 || !Array.isArray(a.json)) throw apiError(t, a, 'list the repos of', tok.source);
      which = i;
      items = a.json;
      break;
    }
    for (const r of items ?? []) {
      const o = r as { name?: unknown; path?: unknown; full_name?: unknown; path_with_namespace?: unknown };
      const name = t.kind === 'gitlab' ? o.path : o.name;
      const full = t.kind === 'gitlab' ? o.path_with_namespace : o.full_name;
      // The user's own listing has other owners' repos too (GitHub /user/repos): only the template's owner counts.
      if (typeof name === 'string' && isAgentId(name) && (typeof full !== 'string' || full.toLowerCase() === `${t.owner}/${name}`.toLowerCase())) found.add(name);
    }
    if (!items || items.length < PAGE) break;
  }
  return [...found].sort();
}
