// Where a push's time goes in bench/propagation: the timestamps our processes append to LETTA_MEMFS_TRACE
// (src/core/trace.ts) plus the bench's own (push start and end, block visible), as hops between milestones.
import { readFileSync } from 'node:fs';
import type { Topology } from './rigs.js';

export interface TraceEvent {
  at: number;
  event: string;
  agent: string;
}

/** The milestones of each topology, in the order a push passes them; a hop is the time between two present ones. */
const CLIENT = ['push.start', 'prepush.start', 'prepush.end', 'push.end', 'poke.send', 'watch.poke', 'watch.pull.start.poke', 'watch.probe.end', 'watch.fetch.end'];
const SERVE = ['serve.rpc.start', 'serve.check.start', 'serve.check.end', 'serve.lock', 'serve.rpc.end'];
export const MILESTONES: Record<Topology, string[]> = {
  direct: ['push.start', ...SERVE, 'push.end', 'block.visible'],
  floor: ['push.start', 'floor.rpc.start', 'floor.rpc.end', 'push.end', 'block.visible'],
  host: [...CLIENT, ...SERVE, 'watch.move.end', 'block.visible'],
  patched: [...CLIENT, 'watch.move.end', 'watch.endpoint.start', 'watch.endpoint.end', 'block.visible'],
};

/** What each hop is, in the words. */
const NAMES: Record<string, string> = {
  'push.start>prepush.start': 'git push to pre-push start',
  'prepush.start>prepush.end': 'pre-push checks',
  'prepush.end>push.end': 'push to host',
  'push.end>poke.send': 'poke waiter sees push',
  'poke.send>watch.poke': 'poke delivery',
  'watch.poke>watch.pull.start.poke': 'watch queue',
  'watch.pull.start.poke>watch.probe.end': 'watch probe',
  'watch.probe.end>watch.fetch.end': 'watch fetch',
  'watch.fetch.end>serve.rpc.start': 'push into Letta proxy',
  'push.start>serve.rpc.start': 'push into Letta proxy',
  'serve.rpc.start>serve.check.start': 'receive-pack + hook start',
  'serve.check.start>serve.check.end': 'pre-receive checks',
  'serve.check.end>serve.lock': 'lock',
  'serve.lock>serve.rpc.end': 'ref update, exit',
  'serve.rpc.end>push.end': 'proxy reply',
  'serve.rpc.end>watch.move.end': 'proxy reply',
  'push.end>block.visible': "Letta's sync, block visible",
  'watch.move.end>block.visible': "Letta's sync, block visible",
  'push.start>floor.rpc.start': 'push into Letta proxy',
  'floor.rpc.start>floor.rpc.end': 'bare receive-pack',
  'floor.rpc.end>push.end': 'proxy reply',
  'watch.fetch.end>watch.move.end': 'update-ref',
  'watch.move.end>watch.endpoint.start': 'sync prep',
  'watch.endpoint.start>watch.endpoint.end': 'sync-from-git endpoint',
  'watch.endpoint.end>block.visible': 'block visible',
  'watch.endpoint.start>block.visible': 'sync-from-git endpoint (block shows before it answers)',
  'push.start>push.end': 'whole push',
};

/** Reads the trace lines appended since `offset`. */
export function readTrace(file: string, offset: number): { events: TraceEvent[]; offset: number } {
  const buf = readFileSync(file);
  const text = buf.subarray(offset).toString('utf8');
  const end = text.lastIndexOf('\n') + 1;
  const events = text
    .slice(0, end)
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [at, , event, agent] = l.split(' ');
      return { at: Number(at), event, agent };
    });
  return { events, offset: offset + Buffer.byteLength(text.slice(0, end)) };
}

/** One sample's hops: the first occurrence of each milestone in [start, visible], in milestone order. */
export function hops(topology: Topology, events: TraceEvent[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const e of events) if (!first.has(e.event)) first.set(e.event, e.at);
  const present = MILESTONES[topology].filter((m) => first.has(m));
  const out = new Map<string, number>();
  for (let i = 1; i < present.length; i++) out.set(`${present[i - 1]}>${present[i]}`, first.get(present[i])! - first.get(present[i - 1])!);
  for (const [a, b] of [['serve.recompile.start', 'serve.recompile.recompiled']]) if (first.has(a) && first.has(b)) out.set(`(recompile, beside the sync)`, first.get(b)! - first.get(a)!);
  return out;
}

export const hopName = (key: string): string => NAMES[key] ?? key;
