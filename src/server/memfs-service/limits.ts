/** Bounds of the memfs git service: concurrent git backends (with a bounded queue) and request body size. */
import { Transform, type TransformCallback } from 'node:stream';

/**
 * At most `max` git processes at once, shared fairly between agents: one agent holds at most half of them (rounded
 * up) and waits in at most half the queue, and a freed process goes to the agents in turn. So one agent's slow
 * requests (a client that never finishes its body holds a process until the idle timeout) leave processes and
 * queue places for the others. Beyond its share, `acquire` answers undefined (the caller sends 503).
 */
export class Slots {
  private active = 0;
  private readonly activeBy = new Map<string, number>();
  // Insertion order is the turn: an agent served goes to the back.
  private readonly waiting = new Map<string, ((release: () => void) => void)[]>();
  private queued = 0;
  readonly perAgent: number;
  readonly perAgentQueue: number;

  constructor(
    readonly max: number,
    readonly queue: number,
  ) {
    this.perAgent = Math.max(1, Math.ceil(max / 2));
    this.perAgentQueue = Math.ceil(queue / 2);
  }

  get busy(): number {
    return this.active;
  }

  /** Requests waiting for a process. */
  get queuedCount(): number {
    return this.queued;
  }

  private canRun(key: string): boolean {
    return this.active < this.max && (this.activeBy.get(key) ?? 0) < this.perAgent;
  }

  private take(key: string): () => void {
    this.active++;
    this.activeBy.set(key, (this.activeBy.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const left = (this.activeBy.get(key) ?? 1) - 1;
      if (left > 0) this.activeBy.set(key, left);
      else this.activeBy.delete(key);
      this.dispatch();
    };
  }

  /** Wakes waiters, one agent at a time in turn, while processes are free. */
  private dispatch(): void {
    for (let progress = true; progress && this.active < this.max; ) {
      progress = false;
      for (const [key, list] of this.waiting) {
        if (!this.canRun(key)) continue;
        const wake = list.shift()!;
        this.queued--;
        this.waiting.delete(key);
        if (list.length > 0) this.waiting.set(key, list);
        // Counted before the waiter runs, so this loop never hands out more than is free.
        wake(this.take(key));
        progress = true;
        break;
      }
    }
  }

  /** Resolves to a release function, or undefined when the agent's share of processes and queue is used up. */
  async acquire(key: string, signal: AbortSignal): Promise<(() => void) | undefined> {
    // Whoever waits is at its share (dispatch runs on every release): a free process may go to this agent now.
    if (this.canRun(key)) return this.take(key);
    const list = this.waiting.get(key) ?? [];
    if (this.queued >= this.queue || list.length >= this.perAgentQueue) return undefined;
    return new Promise<(() => void) | undefined>((resolve) => {
      const wake = (release: () => void) => {
        signal.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        const mine = this.waiting.get(key);
        const i = mine?.indexOf(wake) ?? -1;
        if (mine && i >= 0) {
          mine.splice(i, 1);
          this.queued--;
          if (mine.length === 0) this.waiting.delete(key);
        }
        resolve(undefined);
      };
      list.push(wake);
      this.waiting.set(key, list);
      this.queued++;
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** Passes bytes through and fails the stream once more than `limit` went by (after gunzip too: no zip bombs). */
export function byteCap(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) cb(new BodyTooLarge(limit));
      else cb(null, chunk);
    },
  });
}
