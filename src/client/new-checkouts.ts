/**
 * `init --all` on a machine that lacks some checkouts: the agents to clone from the host. Local-backend agents
 * Letta Code knows here (its records `<storage>/agents/<base64 of the id>.json`, what it lists: facts file, section
 * 8; a record is what Letta Code needs to open the agent, and the host does not hold it), the server agents with
 * git memory Letta's REST API lists (letta-agents.ts), and, when the host is
 * named (createRepos), every agent repo under the remote template's owner there. A host that cannot be listed is a
 * note, not a failure: the checkouts that exist are still set up.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isLocalAgentId } from '../core/agent-id.js';
import { loadConfig } from '../core/config/load.js';
import type { Config } from '../core/config/schema.js';
import { formatError } from '../core/errors.js';
import { listHostAgents } from '../core/host-repo/list.js';
import type { Checkout } from './checkouts.js';
import { checkoutDirFor } from './first-checkout.js';
import { listLettaGitAgents } from './letta-agents.js';
import { localBackendDir } from './local-backend.js';

export interface ToClone {
  checkouts: Checkout[];
  notes: string[];
}

async function knownLocalAgents(env: NodeJS.ProcessEnv): Promise<string[]> {
  const home = env.HOME || os.homedir();
  const dirs = [...new Set([localBackendDir(env, home), localBackendDir({}, home)])].map((d) => path.join(d, 'agents'));
  const names = (await Promise.all(dirs.map((d) => fs.readdir(d).catch(() => [] as string[])))).flat();
  // Letta Code 0.34.12 names each record after the base64 of the agent id (YWdlbnQtbG9jYWwt...json).
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .map((n) => (isLocalAgentId(n) ? n : Buffer.from(n, 'base64').toString('utf8')))
    .filter(isLocalAgentId);
}

export async function agentsToClone(existing: readonly Checkout[], o: { configFile?: string; flags: Partial<Config>; env?: NodeJS.ProcessEnv; fallbackRemote?: string }): Promise<ToClone> {
  const env = o.env ?? process.env;
  const have = new Set(existing.map((c) => c.agentId));
  const ids = new Set(await knownLocalAgents(env));
  const notes: string[] = [];
  const { config } = await loadConfig({ repoFiles: [], configFile: o.configFile, env, flags: o.flags });
  config.remote ??= o.fallbackRemote;
  if (config.remote) {
    try {
      for (const id of await listLettaGitAgents(config, env)) ids.add(id);
    } catch (err) {
      notes.push(`server agents not listed: ${formatError(err)}`);
    }
  }
  if (config.createRepos && config.remote) {
    try {
      for (const id of await listHostAgents(config, env)) ids.add(id);
    } catch (err) {
      notes.push(`cannot list the agents on the host: ${formatError(err)}`);
    }
  }
  const checkouts = [...ids].filter((id) => !have.has(id)).sort().map((agentId) => ({ agentId, dir: checkoutDirFor(agentId, env) }));
  return { checkouts, notes };
}
