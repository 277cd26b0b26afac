import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.js';
import { KeyedQueue } from '../../src/core/keyed-queue.js';
import { agentIdFromMetadataName, findLocalAgents } from '../../src/client/daemon/local-agents.js';

const ID = 'agent-local-f49027f9-acb5-4336-9d27-2570e8608c30';

describe('KeyedQueue', () => {
  it('runs one job per key at a time, at most `concurrency` in all, and coalesces triggers of a queued key', async () => {
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const gates = new Map<string, () => void>();
    const q = new KeyedQueue<string>(async (key, reason) => {
      running++;
      peak = Math.max(peak, running);
      log.push(`${key}:${reason}`);
      await new Promise<void>((r) => gates.set(key, r));
      running--;
    }, 2);
    expect(q.enqueue('a', 'first')).toBe(true);
    q.enqueue('b', 'first');
    q.enqueue('c', 'first');
    expect(q.enqueue('c', 'second')).toBe(false); // queued already: coalesced, the first reason kept
    q.enqueue('a', 'again'); // running: queued once more, after it
    expect(log).toEqual(['a:first', 'b:first']);
    expect(q.busy('c')).toBe(true);
    gates.get('a')!();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a:first', 'b:first', 'c:first']);
    for (const k of ['b', 'c']) gates.get(k)!();
    await new Promise((r) => setImmediate(r));
    gates.get('a')!();
    await q.idle();
    expect(log).toEqual(['a:first', 'b:first', 'c:first', 'a:again']);
    expect(peak).toBe(2);
    expect(q.busy('a')).toBe(false);
  });

  it('lets `merge` pick the reason a coalesced trigger leaves, keeping the queued place', async () => {
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const q = new KeyedQueue<string>(async (key, reason) => {
      log.push(`${key}:${reason}`);
      await gate;
    }, 1, (queued, incoming) => (incoming === 'poke' ? incoming : queued));
    q.enqueue('a', 'periodic');
    q.enqueue('b', 'periodic');
    q.enqueue('c', 'periodic');
    expect(q.enqueue('b', 'poke')).toBe(false);
    expect(q.enqueue('c', 'pending')).toBe(false);
    open();
    await q.idle();
    expect(log).toEqual(['a:periodic', 'b:poke', 'c:periodic']);
  });

  it('keeps going after a job throws, and stop() drops what is queued', async () => {
    const ran: string[] = [];
    const q = new KeyedQueue<string>(async (key) => {
      ran.push(key);
      if (key === 'boom') throw new Error('x');
    }, 1);
    q.enqueue('boom', 'r');
    q.enqueue('ok', 'r');
    await q.idle();
    expect(ran).toEqual(['boom', 'ok']);
    q.enqueue('x', 'r');
    q.enqueue('y', 'r');
    await q.stop();
    expect(ran).toEqual(['boom', 'ok', 'x']);
  });
});

describe('Backoff', () => {
  it('doubles the wait after each failure up to the cap, and forgets on success', () => {
    const b = new Backoff(5_000, 20_000);
    expect(b.due('k', 0)).toBe(true);
    expect([b.failed('k', 0), b.failed('k', 0), b.failed('k', 0), b.failed('k', 0)]).toEqual([5_000, 10_000, 20_000, 20_000]);
    expect(b.due('k', 19_999)).toBe(false);
    expect(b.due('k', 20_000)).toBe(true);
    expect(b.due('other', 0)).toBe(true);
    b.succeeded('k');
    expect(b.retryAt('k')).toBeUndefined();
    expect(b.failed('k', 100)).toBe(5_000);
  });
});

describe('local agents', () => {
  it('reads an agent id from Letta Code\'s metadata file name (base64 of the id), nothing else', () => {
    expect(agentIdFromMetadataName(`${Buffer.from(ID).toString('base64')}.json`)).toBe(ID);
    expect(agentIdFromMetadataName(`${Buffer.from('agent-123e4567-e89b-42d3-a456-426614174000').toString('base64')}.json`)).toBeUndefined();
    expect(agentIdFromMetadataName(`${Buffer.from('../../etc/passwd').toString('base64')}.json`)).toBeUndefined();
    expect(agentIdFromMetadataName(`${Buffer.from(ID).toString('base64')}`)).toBeUndefined();
    expect(agentIdFromMetadataName('not base64!.json')).toBeUndefined();
  });

  it('finds checkouts and metadata-only agents under the storage dir, ignoring anything else', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-agents-'));
    try {
      const other = 'agent-local-00000000-0000-4000-8000-000000000001';
      fs.mkdirSync(path.join(storage, 'memfs', ID, 'memory', '.git'), { recursive: true });
      fs.mkdirSync(path.join(storage, 'memfs', 'not-an-agent', 'memory', '.git'), { recursive: true });
      fs.mkdirSync(path.join(storage, 'agents'), { recursive: true });
      fs.writeFileSync(path.join(storage, 'agents', `${Buffer.from(ID).toString('base64')}.json`), '{}');
      fs.writeFileSync(path.join(storage, 'agents', `${Buffer.from(other).toString('base64')}.json`), '{}');
      fs.writeFileSync(path.join(storage, 'agents', 'junk.json'), '{}');
      expect(await findLocalAgents(storage)).toEqual([
        { agentId: other, dir: path.join(storage, 'memfs', other, 'memory'), hasCheckout: false },
        { agentId: ID, dir: path.join(storage, 'memfs', ID, 'memory'), hasCheckout: true },
      ]);
      expect(await findLocalAgents(path.join(storage, 'missing'))).toEqual([]);
    } finally {
      fs.rmSync(storage, { recursive: true, force: true });
    }
  });
});
