/**
 * "n of N, elapsed" on a terminal for work over many agents; nothing at all when stderr is not a TTY (cron, CI,
 * pipes, tests), so logs stay clean. One line, rewritten in place, cleared at the end.
 */
export interface Progress {
  tick(): void;
  /** Clears the line before other output (results on stdout share the terminal); the next tick redraws it. */
  clear(): void;
  done(): void;
}

export function progress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total < 2) return { tick() {}, clear() {}, done() {} };
  const started = Date.now();
  let n = 0;
  const draw = () => stream.write(`\r${label}: ${n} of ${total}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  draw();
  const clear = () => stream.write('\r\x1b[K');
  return {
    tick() {
      n++;
      draw();
    },
    clear,
    done: clear,
  };
}

/** Runs `work` with a progress line whose total is learnt from the first `onDone(total)` call's argument. */
export async function withProgress<T>(label: string, work: (onDone: (total: number) => void) => Promise<T>): Promise<T> {
  let p: Progress | undefined;
  try {
    return await work((total) => {
      p ??= progress(label, total);
      p.tick();
    });
  } finally {
    p?.done();
  }
}
