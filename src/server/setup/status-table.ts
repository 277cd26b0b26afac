/**
 * `status --server --table`: one line per agent for an operator with many agents, those with a problem first (a
 * conflict, then errors, unknown refs and missing hooks, then pending syncs), each with its most urgent problem;
 * `status --server` prints every detail and `--json` everything per agent.
 */
import type { AgentStatus } from './status.js';

interface Row {
  rank: number;
  state: string;
  note: string;
}

const short = (s?: string) => (s ? s.slice(0, 12) : '-');
const oneLine = (s: string, max: number) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** Pure: an agent's worst problem, ranked (0 first). */
export function rowOf(s: AgentStatus, now = Date.now()): Row {
  if (s.conflicts.length > 0) return { rank: 0, state: 'CONFLICT', note: `${s.conflicts.length} conflict ref(s): ${s.conflicts[0].ref}` };
  if (s.unknownRefs.length > 0) return { rank: 1, state: 'UNKNOWN REF', note: `${s.unknownRefs[0]}: do not merge it` };
  if (s.lastError) return { rank: 1, state: 'ERROR', note: `${s.lastError.during}: ${s.lastError.message}` };
  const hooks = [...s.hooks.missing, ...s.hooks.notExecutable];
  if (s.setUp && hooks.length > 0) return { rank: 1, state: 'HOOKS', note: `missing: ${hooks.join(', ')} (re-run init --server)` };
  if (s.pending) {
    const wait = s.pending.retryAfter ? Math.ceil((Date.parse(s.pending.retryAfter) - now) / 1000) : 0;
    return { rank: 2, state: 'PENDING', note: `sync of ${short(s.pending.target)} not acknowledged${s.pending.attempts ? `, ${s.pending.attempts} tries` : ''}${wait > 0 ? `, next retry in ${wait} s` : ''}` };
  }
  if (!s.setUp) return { rank: 3, state: 'NOT SET UP', note: 'run init --server' };
  return { rank: 4, state: 'ok', note: '' };
}

/** Pure: the table, problems first (then by agent id), columns padded to their widest cell. */
export function formatStatusTable(all: readonly AgentStatus[], now = Date.now()): string {
  const rows = all
    .map((s) => ({ s, r: rowOf(s, now) }))
    .sort((a, b) => a.r.rank - b.r.rank || a.s.agentId.localeCompare(b.s.agentId))
    .map(({ s, r }) => [s.agentId, r.state, short(s.head), short(s.externalHead), short(s.lastSynced), oneLine(r.note, 100)]);
  const cells = [['AGENT', 'STATE', 'MAIN', 'EXTERNAL', 'SYNCED', 'PROBLEM'], ...rows];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((c) => c[i].length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}
