/**
 * For long-running commands (`watch`, `daemon`): resolves on the first SIGTERM or SIGINT, after logging that running
 * work is being finished; a second signal exits at once. The listeners stay installed: proper-lockfile's signal-exit
 * re-raises a signal that no other listener handles, which would kill the process mid-shutdown.
 */
export function untilSignal(log: (line: string) => void, finishing: string): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) process.exit(sig === 'SIGINT' ? 130 : 143);
      stopping = true;
      log(`${sig}: ${finishing}, then exiting (send it again to exit now)`);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
