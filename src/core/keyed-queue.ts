/**
 * Work per key (an agent) for long-running processes (`watch`, `daemon`): at most one run per key at a time, at most
 * `concurrency` runs in all, and triggers for a key that is already queued coalesce: into the first one's reason, or
 * the one `merge` picks.
 */
export class KeyedQueue<R> {
  private readonly queued = new Map<string, R>();
  private readonly running = new Map<string, Promise<void>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runOne: (key: string, reason: R) => Promise<void>,
    private readonly concurrency: number,
    private readonly merge: (queued: R, incoming: R) => R = (queued) => queued,
  ) {}

  /** Queues a run; false when the key was already queued (the trigger coalesced). */
  enqueue(key: string, reason: R): boolean {
    const queued = this.queued.get(key);
    const added = queued === undefined;
    this.queued.set(key, added ? reason : this.merge(queued, reason));
    this.drain();
    return added;
  }

  /** Whether the key's run is in progress now. */
  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  /** Whether the key is queued or running. */
  busy(key: string): boolean {
    return this.queued.has(key) || this.running.has(key);
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queued.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Drops what is queued and waits for the runs in flight (they finish their ref updates). */
  async stop(): Promise<void> {
    this.queued.clear();
    await Promise.all(this.running.values());
  }

  private drain(): void {
    for (const [key, reason] of this.queued) {
      if (this.running.size >= this.concurrency) return;
      if (this.running.has(key)) continue;
      this.queued.delete(key);
      // A run's own errors are its business: one that throws must not stop the queue.
      const p = this.runOne(key, reason)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(key);
          this.drain();
          if (this.queued.size === 0 && this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
      this.running.set(key, p);
    }
  }
}
