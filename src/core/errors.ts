/** An error the user can act on: one line saying what is wrong, and the fix. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** The one line printed for an error; never multi-line, so logs and hooks stay readable. */
export function formatError(err: unknown): string {
  if (err instanceof UserError) {
    const line = err.fix ? `${err.message} (fix: ${err.fix})` : err.message;
    return oneLine(line);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return oneLine(`unexpected error: ${msg}`);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
