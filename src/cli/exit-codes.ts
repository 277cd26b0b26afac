/**
 * The exit codes of every command, decided once (README "Exit codes"). Scripts and cron jobs branch on these, so a
 * command never invents its own.
 */
export const EXIT = {
  /** Everything asked for was done, or there was nothing to do. */
  ok: 0,
  /** Something failed (an agent, the network, Letta, a check); the output says what and the fix. */
  failed: 1,
  /** The command line is wrong: unknown command or flag, a missing or malformed value. Nothing was changed. */
  usage: 2,
  /** A conflict was kept under refs/letta-memfs/conflicts/ (server role, or a local-backend checkout's pull and status): look at it, nothing was lost. */
  conflict: 3,
} as const;
