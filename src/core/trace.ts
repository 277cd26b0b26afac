/**
 * Opt-in timing trace for bench/propagation: with LETTA_MEMFS_TRACE=<file> set, each hop of a push (client hooks,
 * poke, watch, serve, recompile) appends `<epoch ms> <pid> <event> <agent>` to that file. Unset (the default) it is
 * one property read per call: nothing is opened, nothing is loaded on a hook's path.
 */
import { appendFileSync } from 'node:fs';

const FILE = process.env.LETTA_MEMFS_TRACE;

/** Whether tracing is on (to skip building an event's inputs when it is not). */
export const tracing = (): boolean => FILE !== undefined && FILE !== '';

export function trace(event: string, agent = '-'): void {
  if (!FILE) return;
  // One short append per line (O_APPEND): lines of concurrent processes do not interleave.
  try {
    appendFileSync(FILE, `${(performance.timeOrigin + performance.now()).toFixed(1)} ${process.pid} ${event} ${agent}\n`);
  } catch {
    // A trace must never fail the work it times.
  }
}
