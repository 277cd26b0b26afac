/**
 * After a push through the service moved `main`: Letta's proxy runs its own block sync once our response closes
 * (`_sync_after_push`, letta/server/rest_api/routers/v1/git_http.py @ 0.16.7) but never rebuilds the prompt. When
 * the push changed `system/` (the only blocks in the prompt), we wait for that sync to land the pushed values, then
 * call the stock `POST /v1/agents/{id}/recompile`. Never otherwise: a recompile invalidates the LLM prompt cache.
 */
import { httpRequest } from '../../core/http/client.js';
import { git } from '../../git/git.js';
import { MAIN, readRef } from '../../git/refs.js';
import { parseFrontmatter } from '../../validate/frontmatter.js';

export interface RecompileOptions {
  lettaUrl: string;
  password?: string;
  /** How long to wait for Letta's own sync before recompiling anyway. */
  waitMs: number;
  log: (line: string) => void;
  /** Letta's blocks showed the pushed system/ values (the push-to-block latency ends here). */
  onSynced?: () => void;
}

export interface Push {
  agent: string;
  gitDir: string;
  before?: string;
  /** The actor, from the `user_id` header the proxy forwards (already checked to match `user-<uuid>`). */
  userId?: string;
  /** When serve received the push (ms since the epoch). */
  startedMs?: number;
}

/** The block value Letta derives from a file (letta/services/memory_repo/block_markdown.py @ 0.16.7). */
export function blockValueOf(text: string): string {
  const t = text.replace(/\r\n?/g, '\n');
  if (!parseFrontmatter(t).ok) return t;
  return t.slice(t.indexOf('\n---\n', 4) + 5);
}

/** One request to Letta as the pushing actor (a `--secure` Letta's password as Bearer); JSON unless `body` is given. */
export async function lettaCall(
  o: { lettaUrl: string; password?: string; timeoutMs?: number },
  userId: string | undefined,
  method: 'GET' | 'POST',
  urlPath: string,
  body?: { contentType: string; data: Buffer },
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { accept: body ? '*/*' : 'application/json' };
  if (body) headers['content-type'] = body.contentType;
  if (userId) headers.user_id = userId;
  if (o.password) headers.authorization = `Bearer ${o.password}`;
  const res = await httpRequest(`${o.lettaUrl}${urlPath}`, { method, headers, body: body?.data, timeoutMs: o.timeoutMs ?? 30_000 });
  return { status: res.status, body: res.body.toString('utf8') };
}

/**
 * Letta's sync takes ~0.5-1 s on an idle server: looks at 250 ms, then 1.5 times further apart each, find it nearly
 * as soon. A busy Letta takes seconds, and every push of every agent has a waiter: looks up to 2 s apart keep them
 * from adding to its load (a look every 250 ms was 4 reads a second per push in flight).
 */
const FIRST_LOOK_MS = 250;
const LAST_LOOK_MS = 2_000;

export async function recompileIfSystemChanged(push: Push, o: RecompileOptions): Promise<'unchanged' | 'no-system-change' | 'recompiled' | 'failed'> {
  const after = await readRef(push.gitDir, MAIN);
  if (!push.before || !after || after === push.before) return 'unchanged';
  const diff = await git(['diff', '--name-only', '-z', push.before, after, '--', 'system/'], { gitDir: push.gitDir });
  const changed = diff.stdout.split('\0').filter((p) => p.endsWith('.md'));
  if (changed.length === 0) return 'no-system-change';
  const want = new Map<string, string>();
  for (const p of changed) {
    const r = await git(['cat-file', 'blob', `${after}:${p}`], { gitDir: push.gitDir, allowFailure: true });
    if (r.exitCode === 0) want.set(p.slice(0, -3), blockValueOf(r.stdout));
  }
  const id = encodeURIComponent(push.agent);
  const end = Date.now() + o.waitMs;
  let pause = FIRST_LOOK_MS;
  for (;;) {
    const r = await lettaCall(o, push.userId, 'GET', `/v1/agents/${id}/core-memory/blocks?limit=1000`).catch(() => undefined);
    if (r?.status === 200) {
      const blocks = JSON.parse(r.body) as { label: string; value: string }[];
      // git's stdout was trimmed of its final newline: compare the same way.
      const synced = [...want].every(([label, value]) => blocks.some((b) => b.label === label && b.value.replace(/\n$/, '') === value.replace(/\n$/, '')));
      if (synced) {
        o.onSynced?.();
        break;
      }
    }
    if (Date.now() > end) {
      o.log(`${push.agent}: Letta's sync did not show the pushed system/ values within ${o.waitMs} ms; recompiling anyway`);
      break;
    }
    await new Promise((res) => setTimeout(res, pause));
    pause = Math.min(pause * 1.5, LAST_LOOK_MS);
  }
  const rc = await lettaCall(o, push.userId, 'POST', `/v1/agents/${id}/recompile`).catch((err: Error) => ({ status: 0, body: err.message }));
  if (rc.status >= 200 && rc.status < 300) return 'recompiled';
  o.log(`${push.agent}: recompile failed (HTTP ${rc.status || 'no answer'})`);
  return 'failed';
}
