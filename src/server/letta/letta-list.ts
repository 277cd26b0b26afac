/**
 * Listings `restore` needs from Letta's REST API: the agents with git memory, and the organization of our actor
 * (Letta keeps every agent's repo under `repository/<actor's org>/<agent>`, memfs_client_base.py @ 0.16.8).
 */
import { isAgentId } from '../../core/agent-id.js';
import { PAGE_SIZE, pageThrough } from '../../core/http/paged.js';
import { selfCommand } from '../../core/self-command.js';
import { isOrgId } from '../repo/discover.js';
import { getJson, LettaApiError, type LettaClientOptions } from './letta-api.js';

/** The tag that turns git memory on for an agent (facts file, section 1). */
export const GIT_MEMORY_TAG = 'git-memory-enabled';
/** Letta's default actor when no `user_id` header is sent (letta/constants.py @ 0.16.8). */
export const DEFAULT_USER_ID = 'user-00000000-0000-4000-8000-000000000000';

/** Every item of a Letta cursor listing. */
async function listAll(o: LettaClientOptions, route: string, query: string): Promise<Record<string, unknown>[]> {
  return pageThrough(async (after) => {
    const page = await getJson(o, `${route}?${query}limit=${PAGE_SIZE}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (!Array.isArray(page)) throw new LettaApiError(`Letta answered GET ${route} with something other than a list`, 'check that lettaUrl (--letta-url) is the Letta server', false);
    return page;
  });
}

/** Ids of the agents our actor sees with git memory on. Ids from Letta are checked before they name a path. */
export async function listGitAgents(o: LettaClientOptions): Promise<string[]> {
  // Tags are a relationship Letta leaves out (an empty list) unless asked for: `include=agent.tags`, and the legacy
  // `include_relationships=tags` so that an older client's default (every relationship, blocks and tools included)
  // does not apply (routers/v1/agents.py list_agents and orm/agent.py to_pydantic_async @ 0.16.8).
  const agents = await listAll(o, '/v1/agents/', `tags=${GIT_MEMORY_TAG}&include=agent.tags&include_relationships=tags&`);
  const ids = agents.filter((a) => Array.isArray(a.tags) && a.tags.includes(GIT_MEMORY_TAG)).map((a) => a.id as string);
  const bad = ids.find((id) => !isAgentId(id));
  if (bad !== undefined) throw new LettaApiError(`Letta listed an agent id that is not agent-<uuid>: ${JSON.stringify(bad.slice(0, 60))}`, 'pass the agents to restore with --agent <id>', false);
  return ids.sort();
}

/** The organization of our actor (lettaUserId, else Letta's default user), from `GET /v1/admin/users/`. */
export async function actorOrg(o: LettaClientOptions): Promise<string> {
  const want = o.userId ?? DEFAULT_USER_ID;
  const fix = `pass --org org-<uuid> (the directory under <memfs-root>/repository/ Letta uses; ${selfCommand()} restore --help)`;
  let users: Record<string, unknown>[];
  try {
    users = await listAll(o, '/v1/admin/users/', '');
  } catch (err) {
    throw new LettaApiError(`cannot tell which organization Letta keeps the repos under: ${(err as Error).message}`, fix, false);
  }
  const org = users.find((u) => u.id === want)?.organization_id;
  if (!isOrgId(org)) throw new LettaApiError(`Letta lists no user ${want} with an org-<uuid> organization`, fix, false);
  return org;
}
