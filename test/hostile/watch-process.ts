// A real `watch` process (dist/runtime/cli.mjs) against a temp memfs root with one agent, and raw-socket requests,
// so that malformed requests reach it as an attacker would send them (node:net, loopback only).
import { afterAll, beforeAll, expect } from 'vitest';
import { expectNoStack } from './harness.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CLI } from '../helpers/cli.js';
import { type Harness, makeHarness } from '../server/harness.js';

export const SECRET = 'hostile-webhook-secret-4711';
export const hmac = (body: string | Buffer) => createHmac('sha256', SECRET).update(body).digest('hex');

export interface WatchProc {
  h: Harness;
  agentId: string;
  child: ChildProcess;
  port: number;
  log(): string;
  alive(): boolean;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startWatch(): Promise<WatchProc> {
  const h = await makeHarness();
  const a = await h.addAgent();
  fs.writeFileSync(
    path.join(h.memfsRoot, '.letta-memfs-hooksrc.json'),
    JSON.stringify({ remote: `${h.extRoot}/{agentId}.git`, lettaUrl: h.letta.url, syncRetries: 1, webhookPort: 0 }),
  );
  const child = spawn(process.execPath, [CLI, 'watch', '--memfs-root', h.memfsRoot, '--interval', '3600'], {
    cwd: h.root,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(h.root, 'xdg'), LETTA_MEMFS_WEBHOOK_SECRET: SECRET, LETTA_MEMFS_INTERNAL: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const end = Date.now() + 30_000;
  let port = 0;
  while (!port) {
    if (done || Date.now() > end) throw new Error(`watch did not start: ${log}`);
    port = Number(/webhooks on http:\/\/[^\s]+:(\d+)\//.exec(log)?.[1] ?? 0);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    h,
    agentId: a.agentId,
    child,
    port,
    log: () => log,
    alive: () => !done && child.exitCode === null,
    async stop() {
      if (!done) child.kill('SIGTERM');
      const code = await exited;
      await h.cleanup();
      return code;
    },
  };
}

export interface RawReply {
  status?: number;
  headers: string;
  body: string;
  /** The server closed the connection (with or without a reply). */
  closed: boolean;
}

/**
 * Writes `data` (a whole raw request, or its first part) and reads until the server closes or `timeoutMs`.
 * `after` may keep writing (slow body) or abort; the socket's own errors are results, not failures.
 */
export function raw(port: number, data: string | Buffer, opts: { timeoutMs?: number; after?: (s: net.Socket) => void } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, headers: sep < 0 ? text : text.slice(0, sep), body: sep < 0 ? '' : text.slice(sep + 4), closed });
    };
    const timer = setTimeout(() => {
      s.destroy();
      finish();
    }, opts.timeoutMs ?? 10_000);
    s.on('connect', () => {
      s.write(data);
      opts.after?.(s);
    });
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** A request as text: `head` lines joined by CRLF, an empty line, then the body. */
export function req(head: string[], body: string | Buffer = ''): Buffer {
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

/** `POST <target>` with a Host, a Content-Length and the given extra header lines. */
export function post(target: string, headers: string[], body: string | Buffer = ''): Buffer {
  const len = Buffer.byteLength(body);
  return req([`POST ${target} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${len}`, ...headers], body);
}

/** Resident memory of a process in KiB (Linux /proc). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** A push payload for the harness's agent, as GitHub sends it. */
export function pushPayload(w: WatchProc, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ref: 'refs/heads/main', after: 'f'.repeat(40), repository: { clone_url: w.h.extPath(w.agentId) }, ...extra });
}

/**
 * One real `watch` for a test file: started before its tests, handed to `set`; afterwards it must exit 0 on SIGTERM
 * with no stack trace and no secret in its log.
 */
export function useWatch(set: (w: WatchProc) => void): void {
  let w: WatchProc;
  beforeAll(async () => {
    w = await startWatch();
    set(w);
  }, 60_000);
  afterAll(async () => {
    const log = w.log();
    expect(await w.stop()).toBe(0);
    expectNoStack(log);
    expect(log).not.toContain(SECRET);
  });
}
