/**
 * The Letta Code local-backend agents on this machine, for `daemon`: every `<storage>/memfs/<agent-local-id>/memory`
 * (the checkout, src/client/local-backend.ts) and every agent whose metadata file Letta Code keeps,
 * `<storage>/agents/<base64(agentId)>.json` (seen on 0.33.8 and 0.34.12: the file name is the id in standard base64;
 * an agent copied from another machine has this file but no checkout yet).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isLocalAgentId } from '../../core/agent-id.js';

export interface LocalAgent {
  agentId: string;
  /** `<storage>/memfs/<agentId>/memory`. */
  dir: string;
  /** Whether that directory is a git checkout already. */
  hasCheckout: boolean;
}

/** Pure: the agent id a metadata file name stands for, or undefined when it is not one. */
export function agentIdFromMetadataName(name: string): string | undefined {
  if (!name.endsWith('.json')) return undefined;
  const b64 = name.slice(0, -'.json'.length);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) return undefined;
  const id = Buffer.from(b64, 'base64').toString('utf8');
  return isLocalAgentId(id) ? id : undefined;
}

export const checkoutDir = (storage: string, agentId: string) => path.join(storage, 'memfs', agentId, 'memory');

const exists = (p: string) => fs.stat(p).then(() => true, () => false);

/**
 * Every local agent under `storage`, sorted by id; names that are not agent ids are left alone. `checkedOut` names
 * agents already known to have a checkout, which are not looked at again (a rescan of 200 agents is two readdirs).
 */
export async function findLocalAgents(storage: string, checkedOut: ReadonlySet<string> = new Set()): Promise<LocalAgent[]> {
  const [checkouts, metadata] = await Promise.all([
    fs.readdir(path.join(storage, 'memfs')).catch(() => [] as string[]),
    fs.readdir(path.join(storage, 'agents')).catch(() => [] as string[]),
  ]);
  const ids = new Set([...checkouts.filter(isLocalAgentId), ...metadata.map(agentIdFromMetadataName).filter((id): id is string => id !== undefined)]);
  const out: LocalAgent[] = [];
  for (const agentId of [...ids].sort()) {
    const dir = checkoutDir(storage, agentId);
    out.push({ agentId, dir, hasCheckout: checkedOut.has(agentId) || (await exists(path.join(dir, '.git'))) });
  }
  return out;
}
