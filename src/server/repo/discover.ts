import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isAgentId, validateAgentId } from '../../core/agent-id.js';
import { USAGE } from '../../core/config/values.js';
import { UserError } from '../../core/errors.js';

/** One agent's memory repo as the Letta server stores it. */
export interface AgentRepo {
  agentId: string;
  orgId: string;
  /** Absolute path of `repo.git` (a non-bare repo's `.git` dir, facts file section 1). */
  gitDir: string;
}

// Default org of a self-hosted server (letta/constants.py @ 0.16.7, DEFAULT_ORG_ID).
export const DEFAULT_ORG_ID = 'org-00000000-0000-4000-8000-000000000000';
const ORG_ID = /^org-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isOrgId = (v: unknown): v is string => typeof v === 'string' && ORG_ID.test(v);

/** `<memfsRoot>/repository/<org>/<agent>/repo.git` (letta/services/memory_repo/storage/local.py @ 0.16.7). */
export function agentRepoPath(memfsRoot: string, orgId: string, agentId: string): string {
  return path.join(path.resolve(memfsRoot), 'repository', orgId, agentId, 'repo.git');
}

export interface Discovery {
  repos: AgentRepo[];
  /** Directories that look like neither an org nor an agent repo, with why; listed by `status` and `doctor`. */
  skipped: { path: string; reason: string }[];
  /**
   * `<memfsRoot>/repository` does not exist: a fresh server where Letta made no git-enabled agent yet (it creates the
   * directory with the first one), or a wrong root. Not an error: `watch`, `serve` and `init --server` start anyway
   * and pick agents up when they appear; they say so in one line.
   */
  noRepositoryYet?: string;
}

/** The one line saying why a memfs root has no agents yet (see Discovery.noRepositoryYet). */
export function noAgentsYetLine(dir: string): string {
  return `no agents yet: ${dir} does not exist (Letta creates it with its first git-enabled agent; if it has agents, check --memfs-root: Letta 0.16.x keeps them in ~/.letta/memfs of the user it runs as)`;
}

async function dirs(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Lists agent repos under a memfs root: pure fs (no git process per agent), so 1,000 agents take milliseconds. */
export async function discoverAgents(memfsRoot: string): Promise<Discovery> {
  const root = path.join(path.resolve(memfsRoot), 'repository');
  const out: Discovery = { repos: [], skipped: [] };
  if (!(await fs.stat(root).then((st) => st.isDirectory(), () => false))) return { ...out, noRepositoryYet: root };
  for (const org of (await dirs(root)).sort()) {
    if (!ORG_ID.test(org)) {
      out.skipped.push({ path: path.join(root, org), reason: 'not an org-<uuid> directory' });
      continue;
    }
    for (const agent of (await dirs(path.join(root, org))).sort()) {
      const gitDir = path.join(root, org, agent, 'repo.git');
      if (!isAgentId(agent)) {
        out.skipped.push({ path: path.join(root, org, agent), reason: 'not an agent-<uuid> directory' });
        continue;
      }
      // A stat, not a read: `watch` rescans 10,000 repos every 30 s.
      if (!fsSync.existsSync(path.join(gitDir, 'HEAD'))) {
        out.skipped.push({ path: gitDir, reason: 'no repo.git/HEAD (not a git repo yet)' });
        continue;
      }
      out.repos.push({ agentId: agent, orgId: org, gitDir });
    }
  }
  return out;
}

/** Selects `--agent` ids (validated, each must exist) or every repo (`--all`). */
export async function selectAgents(memfsRoot: string, agents: readonly string[] | 'all'): Promise<AgentRepo[]> {
  const found = await discoverAgents(memfsRoot);
  if (agents === 'all') return found.repos;
  const byId = new Map(found.repos.map((r) => [r.agentId, r])); // not a scan per id: 10,000 ids x 10,000 repos
  return agents.map((id) => {
    validateAgentId(id, '--agent', USAGE);
    const repo = byId.get(id);
    if (!repo) {
      throw new UserError(
        `no memory repo for ${id} under ${path.join(path.resolve(memfsRoot), 'repository')}`,
        'check the id and that the agent has the git-memory-enabled tag (the server creates its repo then)',
      );
    }
    return repo;
  });
}
