/**
 * One number per agent (loose objects, conflict refs, 1 for "pending"), summed and counted for a gauge without a
 * per-agent label. The sum is kept as values change, so a scrape costs nothing per agent except for `max`.
 */
export class Tally {
  private readonly values = new Map<string, number>();
  private total = 0;

  /** Sets an agent's value; 0 (or false) forgets the agent. */
  set(agentId: string, value: number | boolean): void {
    const v = Number(value);
    this.total += v - (this.values.get(agentId) ?? 0);
    if (v === 0) this.values.delete(agentId);
    else this.values.set(agentId, v);
  }

  /** Agents with a non-zero value. */
  get count(): number {
    return this.values.size;
  }

  get sum(): number {
    return this.total;
  }

  max(): number {
    let m = 0;
    for (const v of this.values.values()) if (v > m) m = v;
    return m;
  }
}
