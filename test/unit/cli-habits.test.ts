/** Pure pieces behind issue 10's CLI habits: did-you-mean, our parseArgs messages, watch log lines. */
import { describe, expect, it } from 'vitest';
import { usageError } from '../../src/cli/args.js';
import { editDistance, suggest } from '../../src/cli/suggest.js';
import { foldLines } from '../../src/core/log-coalesce.js';
import { formatLogLine } from '../../src/core/log.js';

const A = 'agent-123e4567-e89b-42d3-a456-426614174000';
const B = 'agent-223e4567-e89b-42d3-a456-426614174001';

describe('suggest', () => {
  it('counts a transposition as one edit and suggests only close names', () => {
    expect(editDistance('stauts', 'status')).toBe(1);
    expect(suggest('stauts', ['init', 'status', 'sync'])).toBe('status');
    expect(suggest('lettaurl', ['letta-url', 'remote'])).toBe('letta-url');
    expect(suggest('memfs', ['memfs-root', 'json'])).toBe('memfs-root'); // a unique prefix
    expect(suggest('xyz', ['init', 'status'])).toBeUndefined();
  });
});

describe('usageError', () => {
  const help = 'usage: letta-memfs-hooks init --server [options]';
  it('names the command and the closest flag, exit 2', () => {
    const e = usageError({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION', message: `Unknown option '--remot'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "--remot"` }, { remote: { type: 'string' } }, help);
    expect([e.message, e.fix, e.exitCode]).toEqual(['unknown option --remot for init --server', 'did you mean --remote?', 2]);
  });
});

describe('watch log lines', () => {
  it('fold per-agent lines with the same text into one, keep the others as they are', () => {
    expect(foldLines([`${A} (periodic): sync failed: down`, 'scan: x', `${B} (poke): sync failed: down`, `${B} (poke): fast-forward`])).toEqual([
      `2 agents (periodic, poke): sync failed: down: ${A}, ${B}`,
      'scan: x',
      `${B} (poke): fast-forward`,
    ]);
  });

  it('start with an ISO timestamp, or are one JSON object', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(formatLogLine('watching /m', 'text', at)).toBe('2026-01-01T00:00:00.000Z letta-memfs-hooks: watching /m');
    expect(JSON.parse(formatLogLine('warning: webhook endpoint off', 'json', at))).toEqual({ time: '2026-01-01T00:00:00.000Z', level: 'warn', msg: 'webhook endpoint off' });
  });
});
