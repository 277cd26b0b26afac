import { redact } from './redact.js';

const secrets: string[] = [];

/** Registers a secret so that no log line can print it. */
export function addSecret(secret: string | undefined): void {
  if (secret && !secrets.includes(secret)) secrets.push(secret);
}

export function logLine(message: string): void {
  process.stderr.write(`letta-memfs-hooks: ${redact(message, secrets)}\n`);
}

export function warn(message: string): void {
  logLine(`warning: ${message}`);
}

export type LogFormat = 'text' | 'json';

/**
 * Pure: one line of a long-running process's log (`watch`): ISO timestamp first, so an operator can tell when Letta
 * went down; or one JSON object per line for log shippers. Secrets are redacted either way.
 */
export function formatLogLine(message: string, format: LogFormat, now: Date = new Date()): string {
  const msg = redact(message, secrets);
  const time = now.toISOString();
  if (format === 'json') {
    const level = msg.startsWith('warning: ') ? 'warn' : / failed|error|cannot /.test(msg) ? 'error' : 'info';
    return JSON.stringify({ time, level, msg: msg.replace(/^warning: /, '') });
  }
  return `${time} letta-memfs-hooks: ${msg}`;
}

/** A logger for long-running processes, writing formatLogLine lines to stderr. */
export function timestampedLogger(format: LogFormat): (message: string) => void {
  return (message) => process.stderr.write(formatLogLine(message, format) + '\n');
}
