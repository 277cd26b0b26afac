import { formatError, UserError } from '../core/errors.js';

/**
 * `--json`: the one way every command prints its result for a script. One JSON document on stdout and nothing else
 * there (progress, warnings and errors stay on stderr; an error is also one JSON line on stdout, see main.ts), with
 * the exit code the text form has.
 */
export const JSON_FLAG = { json: { type: 'boolean' } } as const;

/** Prints `value` as the command's one JSON document: indented, or on one line (`oneLine`) for an error. */
export function printJson(value: unknown, oneLine = false): void {
  process.stdout.write(JSON.stringify(value, null, oneLine ? undefined : 2) + '\n');
}

/** An error as JSON: its one line and, for a UserError, the fix apart (as main.ts prints a failed command's). */
export function errorJson(err: unknown): { error: string; fix?: string } {
  return err instanceof UserError ? { error: err.message, fix: err.fix } : { error: formatError(err) };
}
