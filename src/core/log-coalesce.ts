/**
 * `watch` logs one line per agent outcome. When a cause is shared (Letta down: every agent's sync fails the same way)
 * that is N identical lines per interval; this folds lines that differ only in the agent into one summary line.
 */
// Server agents `agent-<uuid>`, Letta Code local-backend agents `agent-local-<uuid>` (the local `daemon`).
const AGENT_LINE = /^(agent-(?:local-)?[0-9a-f-]{36}) \(([\w-]+)\): (.*)$/;

/** Pure: lines in order, with per-agent lines of the same text folded into `N agents (reasons): text: ids`. */
export function foldLines(lines: readonly string[]): string[] {
  const groups = new Map<string, { ids: string[]; reasons: Set<string> }>();
  const order: (string | { key: string })[] = [];
  for (const line of lines) {
    const m = AGENT_LINE.exec(line);
    if (!m) {
      order.push(line);
      continue;
    }
    const [, id, reason, what] = m;
    let g = groups.get(what);
    if (!g) {
      g = { ids: [], reasons: new Set() };
      groups.set(what, g);
      order.push({ key: what });
    }
    // One agent pulled twice in a cycle (a webhook, then the periodic pull) is still one agent.
    if (!g.ids.includes(id)) g.ids.push(id);
    g.reasons.add(reason);
  }
  return order.map((o) => {
    if (typeof o === 'string') return o;
    const g = groups.get(o.key)!;
    const reasons = [...g.reasons].join(', ');
    if (g.ids.length === 1) return `${g.ids[0]} (${reasons}): ${o.key}`;
    const ids = g.ids.slice(0, 3).join(', ') + (g.ids.length > 3 ? `, and ${g.ids.length - 3} more` : '');
    return `${g.ids.length} agents (${reasons}): ${o.key}: ${ids}`;
  });
}

/** Buffers lines while they keep coming (a cycle's outcomes), then writes them folded once `quietMs` pass without one. */
export function coalescingLog(emit: (line: string) => void, quietMs = 1000): { log: (line: string) => void; flush: () => void } {
  let buf: string[] = [];
  let firstAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const lines = buf;
    buf = [];
    for (const l of foldLines(lines)) emit(l);
  };
  return {
    log(line) {
      if (buf.length === 0) firstAt = Date.now();
      buf.push(line);
      if (timer) clearTimeout(timer);
      // Never hold a line back longer than ten quiet periods, however busy the process stays.
      if (Date.now() - firstAt >= quietMs * 10) return flush();
      timer = setTimeout(flush, quietMs);
      timer.unref();
    },
    flush,
  };
}
