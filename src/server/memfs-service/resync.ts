/**
 * Blocks that match main after the pushes of an agent settle. Letta's post-push sync runs as a background task per
 * push, unserialised (`_sync_after_push`, letta/server/rest_api/routers/v1/git_http.py @ 0.16.7): a slow sync of
 * an earlier push reads an older HEAD and detaches the blocks of files a later push added, and a sync is lost
 * when Letta stops before it ran. So once pushes settle we compare Letta's blocks with main's files and, when they
 * differ, have Letta sync again the only way a stock Letta offers: a receive-pack request through its proxy. An
 * empty one (a flush packet: no ref update, git answers 200) is enough for the proxy to run its full sync.
 */
import { lsTree, ObjectReader } from '../../git/objects.js';
import { blockLabelOf } from '../../validate/frontmatter-rules.js';
import { MAX_FILE_BYTES } from '../../validate/tree.js';
import { blockValueOf, lettaCall, type Push } from './recompile.js';

export interface ResyncOptions {
  lettaUrl: string;
  password?: string;
  /** How long a sync that may still be running gets before another is asked for. */
  settleMs: number;
  /** How long to wait for Letta's sync after asking for one. */
  waitMs: number;
}

/** Labels whose block is missing or holds another value than main's file says (two git processes per check). */
export async function unsyncedLabels(gitDir: string, blocks: { label: string; value: string }[]): Promise<string[]> {
  const files = await lsTree('refs/heads/main', { gitDir }).catch(() => []);
  const wanted = files.filter((f) => f.type === 'blob').map((f) => ({ ...f, label: blockLabelOf(f.path) })).filter((f) => f.label);
  const reader = new ObjectReader(MAX_FILE_BYTES, { gitDir });
  try {
    const contents = await reader.read(wanted.map((f) => f.oid));
    const out: string[] = [];
    for (const f of wanted) {
      const content = contents.get(f.oid);
      if (!content) continue;
      const want = blockValueOf(content.toString('utf8')).replace(/\n+$/, '');
      if (!blocks.some((b) => b.label === f.label && b.value.replace(/\n+$/, '') === want)) out.push(f.label!);
    }
    return out;
  } finally {
    await reader.close();
  }
}

async function blocksOf(push: Push, o: ResyncOptions): Promise<{ label: string; value: string }[] | undefined> {
  const r = await lettaCall(o, push.userId, 'GET', `/v1/agents/${encodeURIComponent(push.agent)}/core-memory/blocks?limit=1000`).catch(() => undefined);
  return r?.status === 200 ? (JSON.parse(r.body) as { label: string; value: string }[]) : undefined;
}

/**
 * 'in-sync' when Letta's blocks match main, 'resynced' when they did after asking Letta to sync, 'failed'
 * otherwise; 'unknown' when Letta did not answer. `labels`: those that did not match at first.
 */
export async function ensureSynced(push: Push, o: ResyncOptions): Promise<{ outcome: 'in-sync' | 'resynced' | 'failed' | 'unknown'; labels?: string[] }> {
  const blocks = await blocksOf(push, o);
  if (!blocks) return { outcome: 'unknown' };
  const first = await unsyncedLabels(push.gitDir, blocks);
  if (first.length === 0) return { outcome: 'in-sync' };
  // A sync may still be running (seconds on a loaded Letta): give it time before asking for another.
  if (await syncedWithin(push, o, o.settleMs)) return { outcome: 'in-sync' };
  const flush = { contentType: 'application/x-git-receive-pack-request', data: Buffer.from('0000') };
  const r = await lettaCall(o, push.userId, 'POST', `/v1/git/${encodeURIComponent(push.agent)}/state.git/git-receive-pack`, flush).catch(() => undefined);
  if (!r || r.status >= 400) return { outcome: 'failed', labels: first };
  return { outcome: (await syncedWithin(push, o, o.waitMs)) ? 'resynced' : 'failed', labels: first };
}

async function syncedWithin(push: Push, o: ResyncOptions, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((res) => setTimeout(res, 200));
    const now = await blocksOf(push, o);
    if (now && (await unsyncedLabels(push.gitDir, now)).length === 0) return true;
  }
  return false;
}
