/** Polls until fn returns a value (not undefined); throws with `what` (and `detail()`, e.g. a process log) after ms. */
export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 60_000, detail?: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
