/** Bounds of the memfs git service: concurrent git backends (with a bounded queue) and request body size. */
import { Transform, type TransformCallback } from 'node:stream';

/** At most `max` holders; up to `queue` waiters; beyond that `acquire` answers undefined (the caller sends 503). */
export class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly queue: number,
  ) {}

  get busy(): number {
    return this.active;
  }

  /** Resolves to a release function, or undefined when both the slots and the queue are full. */
  async acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.queue) return undefined;
      const granted = await new Promise<boolean>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve(true);
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve(false);
        };
        this.waiting.push(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      // Handed over by release(): the count already includes us.
      if (!granted) return undefined;
    } else {
      this.active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
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
