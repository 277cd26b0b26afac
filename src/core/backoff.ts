/**
 * Per-key retry backoff for long-running processes: after each failure the key waits twice as long as after the
 * previous one (from `minMs` up to `maxMs`); a success forgets it.
 */
export class Backoff {
  private readonly state = new Map<string, { at: number; delay: number }>();

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  /** Records a failure; returns the delay before the key is due again. */
  failed(key: string, now = Date.now()): number {
    const prev = this.state.get(key);
    const delay = prev ? Math.min(prev.delay * 2, this.maxMs) : this.minMs;
    this.state.set(key, { at: now + delay, delay });
    return delay;
  }

  succeeded(key: string): void {
    this.state.delete(key);
  }

  /** Whether the key may run now (never failed, or its delay has passed). */
  due(key: string, now = Date.now()): boolean {
    return (this.state.get(key)?.at ?? 0) <= now;
  }

  /** When a waiting key is due again (ms since the epoch), or undefined when it is not waiting. */
  retryAt(key: string): number | undefined {
    return this.state.get(key)?.at;
  }
}
