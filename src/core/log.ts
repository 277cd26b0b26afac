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
