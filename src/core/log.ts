import { redact } from './redact.js';

const secrets: string[] = [];

/** Registers a secret so that no log line can print it. */
export function addSecret(secret: string | undefined): void {
  if (secret && !secrets.includes(secret)) secrets.push(secret);
}

// The default env vars of our secrets: their values are redacted from every line even before a command reads them,
// so a token pasted into the wrong option (and exported as usual) is never echoed back.
const SECRET_ENV = ['LETTA_MEMFS_GIT_TOKEN', 'LETTA_SERVER_PASSWORD', 'LETTA_MEMFS_WEBHOOK_SECRET', 'LETTA_API_KEY'];

export function logLine(message: string): void {
  const fromEnv = SECRET_ENV.map((k) => process.env[k]?.trim() ?? '').filter((v) => v.length >= 8);
  process.stderr.write(`letta-memfs-hooks: ${redact(message, [...secrets, ...fromEnv])}\n`);
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
