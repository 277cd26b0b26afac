/**
 * Resolves on the first SIGTERM or SIGINT, after `onFirst` (the daemon's "finishing, then exiting" line); a second
 * one exits at once (130/143). The listeners stay installed: proper-lockfile's signal-exit re-raises a signal that
 * no other listener handles, which would kill a daemon mid-shutdown (watch's pulls and serve's after-push checks
 * hold its locks).
 */
export function untilSignal(onFirst: (signal: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) process.exit(sig === 'SIGINT' ? 130 : 143);
      stopping = true;
      onFirst(sig);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
