/**
 * The memfs git service: smart HTTP for `<memfs-root>/repository/<org>/<agent>/repo.git`, behind Letta's
 * `/v1/git/` proxy (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7). Streams both ways (the proxy sends
 * every POST chunked, without Content-Length: facts §6), caps request bodies, bounds concurrent git processes, and
 * answers every input with a status: no request can stop the process.
 */
import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { removeQuarantines } from '../../git/quarantine.js';
import { spawnBackend } from './backend.js';
import { mainOf } from './recompile.js';
import { releaseLock, type RedisTarget } from './redis-lock.js';
import { BodyTooLarge, byteCap, Slots } from './limits.js';
import { advertisementPrefix, route, type GitService } from './route.js';
import type { AccessCheck } from './access.js';

export interface ServiceOptions {
  /** Absolute memfs root (Letta's `~/.letta/memfs`). */
  memfsRoot: string;
  secret: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBackends: number;
  maxQueued: number;
  /** A request with no byte moving either way for this long is cut and its git killed. */
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  /** Our hooks directory for receive-pack (core.hooksPath through the environment), and the hooks' environment. */
  hooksDir?: string;
  hookEnv?: Record<string, string>;
  /** Letta's Redis: receive-pack then holds Letta's commit lock while it moves main (redis-lock.ts). */
  redis?: RedisTarget;
  /** How long a push waits for a Letta commit that holds the lock. */
  lockWaitMs?: number;
  log: (line: string) => void;
  /** Letta's word on whether the forwarded actor may reach the agent (access.ts); asked before any git runs. */
  access: Pick<AccessCheck, 'check'>;
  /**
   * Called after a receive-pack that exited 0 (the refs may or may not have moved), with main as it was before and
   * the actor from the `user_id` header the proxy forwards, when it is a well-formed id.
   */
  onReceivePack?: (push: { org: string; agent: string; gitDir: string; before?: string; userId?: string }) => void;
}

function send(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...extra });
  res.end(`${text}\n`);
}

async function isRepo(gitDir: string): Promise<boolean> {
  try {
    return (await stat(gitDir)).isDirectory() && (await stat(path.join(gitDir, 'HEAD'))).isFile();
  } catch {
    return false;
  }
}

/**
 * The orgs whose directory holds this agent's repo. Letta makes an agent's repo under its own org only
 * (repository/<org>/<agent>, letta/services/memory_repo/git_operations.py @ 0.16.7), so the org header must name
 * the one org that has it: with the actor's access to the agent checked by Letta, that is the actor's org.
 */
async function orgsHolding(memfsRoot: string, agent: string): Promise<string[]> {
  const orgs = await readdir(path.join(memfsRoot, 'repository')).catch(() => [] as string[]);
  const held = await Promise.all(orgs.map(async (org) => ((await isRepo(path.join(memfsRoot, 'repository', org, agent, 'repo.git'))) ? org : undefined)));
  return held.filter((o): o is string => o !== undefined);
}

export class MemfsService {
  private server?: Server;
  private readonly slots: Slots;
  /** receive-packs of ours running, per repo: a quarantine no push of ours can own is an orphan. */
  private readonly receiving = new Map<string, number>();

  constructor(private readonly opts: ServiceOptions) {
    this.slots = new Slots(opts.maxBackends, opts.maxQueued);
  }

  /** Listens; rejects (EADDRINUSE, EACCES, ...) when it cannot, so the command can exit at once. */
  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => send(res, 500, 'internal error'));
    });
    server.requestTimeout = this.opts.totalTimeoutMs;
    server.headersTimeout = Math.min(10_000, this.opts.totalTimeoutMs);
    // Malformed HTTP never reaches the handler: answer 400 and drop the socket.
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const r = route(req.method ?? '', req.url ?? '', req.headers, this.opts.secret);
    if (!r.ok) {
      // Never the URL (it holds the secret) nor any header (the proxy forwards the client's Authorization).
      this.opts.log(`refused ${req.method ?? '?'} ${r.status}: ${r.reason}`);
      req.resume();
      send(res, r.status, r.status === 404 ? 'not found' : r.reason);
      return;
    }
    const what = `${req.method} ${r.agent} ${r.service}${r.kind === 'advertise' ? ' (refs)' : ''}`;
    const verdict = await this.opts.access.check(r.actor, r.agent);
    if (verdict !== 'allow') {
      const why = verdict === 'deny' ? [403, 'Letta says this actor cannot reach the agent'] as const : [503, 'cannot ask Letta whether this actor may reach the agent'] as const;
      this.opts.log(`refused ${what} ${why[0]}: ${why[1]}`);
      req.resume();
      send(res, why[0], verdict === 'deny' ? 'forbidden' : 'Letta unavailable, try again', verdict === 'deny' ? {} : { 'Retry-After': '5' });
      return;
    }
    // Both ids matched strict patterns in route(): no path is built from anything else.
    const gitDir = path.join(this.opts.memfsRoot, 'repository', r.org, r.agent, 'repo.git');
    // Letta creates repos; we never do. An agent the org does not hold (alone) is the same 404 as any unknown path.
    const holders = await orgsHolding(this.opts.memfsRoot, r.agent);
    if (holders.length !== 1 || holders[0] !== r.org) {
      this.opts.log(`refused ${what} 404: ${holders.length > 1 ? 'agent repo under several orgs' : 'no such repo in this org'}`);
      req.resume();
      send(res, 404, 'not found');
      return;
    }
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const release = await this.slots.acquire(gone.signal);
    if (!release) {
      if (!gone.signal.aborted) {
        this.opts.log(`refused ${what} 503: ${this.slots.busy} git processes running, queue full`);
        req.resume();
        send(res, 503, 'busy, try again', { 'Retry-After': '1' });
      }
      return;
    }
    const push = r.service === 'git-receive-pack' && r.kind === 'rpc' && this.opts.onReceivePack !== undefined;
    const before = push ? await mainOf(gitDir) : undefined;
    const userId = r.actor;
    this.run(req, res, r.service, r.kind === 'advertise', r.protocol, gitDir, gone.signal, release, { what, started, org: r.org, agent: r.agent, before, userId });
  }

  /**
   * After a receive-pack: once none of ours runs on the repo, a quarantine dir left there is an orphan. A killed
   * git (SIGKILL skips its cleanup) may have left its own just now; any older than --timeout outlived every request
   * (one serve per memfs root: another one's running push could lose its quarantine and fail, never land half).
   */
  private dropQuarantines(gitDir: string, killed: boolean): void {
    const left = (this.receiving.get(gitDir) ?? 1) - 1;
    if (left > 0) return void this.receiving.set(gitDir, left);
    this.receiving.delete(gitDir);
    removeQuarantines(gitDir, killed ? Date.now() + 1 : Date.now() - this.opts.totalTimeoutMs)
      .then((n) => n > 0 && this.opts.log(`${path.basename(path.dirname(gitDir))}: removed ${n} push quarantine dir(s) left by a killed git`))
      .catch((err: Error) => this.opts.log(`cannot remove push quarantine dirs: ${err.message}`));
  }

  private run(
    req: IncomingMessage,
    res: ServerResponse,
    service: GitService,
    advertise: boolean,
    protocol: string | undefined,
    gitDir: string,
    gone: AbortSignal,
    release: () => void,
    info: { what: string; started: number; org: string; agent: string; before?: string; userId?: string },
  ): void {
    // A push takes Letta's commit lock in our pre-receive (after validation) with a token of this request; we
    // release it when receive-pack has exited, so main moves only while the lock is ours.
    const redis = service === 'git-receive-pack' && !advertise ? this.opts.redis : undefined;
    const token = `letta-memfs-hooks:push:${randomUUID()}`;
    const lockEnv: Record<string, string> = redis
      ? { LMH_LOCK_REDIS: `${redis.host}:${redis.port}`, LMH_LOCK_AGENT: info.agent, LMH_LOCK_TOKEN: token, LMH_LOCK_WAIT_MS: String(this.opts.lockWaitMs ?? 15_000) }
      : {};
    const child = spawnBackend({ service, advertise, gitDir, protocol, hooksDir: this.opts.hooksDir, hookEnv: { ...this.opts.hookEnv, ...lockEnv } });
    const receiving = service === 'git-receive-pack' && !advertise;
    if (receiving) this.receiving.set(gitDir, (this.receiving.get(gitDir) ?? 0) + 1);
    let failure: { status: number; text: string } | undefined;
    let stderr = '';
    const kill = (why: { status: number; text: string }) => {
      failure ??= why;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }
    };
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => kill({ status: 504, text: 'timed out (idle)' }), this.opts.idleTimeoutMs);
    };
    touch();
    const total = setTimeout(() => kill({ status: 504, text: 'timed out' }), this.opts.totalTimeoutMs);
    if (gone.aborted) kill({ status: 499, text: 'client went away' });
    gone.addEventListener('abort', () => {
      if (!res.writableFinished) kill({ status: 499, text: 'client went away' });
    });

    child.stdin.on('error', () => undefined); // git may stop reading early (a refused push); EPIPE is expected
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2_000) stderr += d.toString('utf8');
    });
    if (advertise) {
      child.stdin.end();
      req.resume();
    } else {
      const gzip = /^(x-)?gzip$/.test(String(req.headers['content-encoding'] ?? ''));
      const cap = this.opts.maxBodyBytes;
      req.on('data', touch);
      const onBodyError = (err: Error | null | undefined) => {
        if (!err) return;
        if (err instanceof BodyTooLarge) kill({ status: 413, text: `request body over ${cap} bytes` });
        else kill({ status: 400, text: gzip ? 'bad gzip request body' : 'request body failed' });
      };
      if (gzip) pipeline(req, byteCap(cap), createGunzip(), byteCap(cap), child.stdin, onBodyError);
      else pipeline(req, byteCap(cap), child.stdin, onBodyError);
    }

    child.stdout.once('data', (first: Buffer) => {
      if (failure || res.destroyed) return;
      res.writeHead(200, { 'Content-Type': `application/x-${service}-${advertise ? 'advertisement' : 'result'}`, 'Cache-Control': 'no-cache' });
      if (advertise) res.write(advertisementPrefix(service, protocol));
      res.write(first);
      child.stdout.on('data', touch);
      child.stdout.pipe(res);
    });
    child.on('error', (err) => kill({ status: 500, text: `cannot run git: ${err.message}` }));
    child.on('close', (code, signal) => {
      clearTimeout(idle);
      clearTimeout(total);
      release();
      if (receiving) this.dropQuarantines(gitDir, signal !== null);
      if (redis) releaseLock(redis, info.agent, token).catch((err: Error) => this.opts.log(`${info.agent}: cannot release Letta's commit lock (it expires in 60 s): ${err.message}`));
      let status = res.headersSent ? 200 : 500;
      if (failure) {
        status = failure.status;
        if (status !== 499) send(res, status, failure.text);
      } else if (!res.headersSent) {
        if (code === 0) {
          res.writeHead(200, { 'Content-Type': `application/x-${service}-${advertise ? 'advertisement' : 'result'}`, 'Cache-Control': 'no-cache' });
          res.end(advertise ? advertisementPrefix(service, protocol) : undefined);
          status = 200;
        } else send(res, 500, 'git failed');
      } else if (code !== 0) {
        // Output already started: all we can do is cut the stream, which the git client reports.
        res.destroy();
      }
      const errLine = stderr.trim().split('\n').pop() ?? '';
      const exit = code ?? signal;
      this.opts.log(`${info.what} ${status} in ${Date.now() - info.started} ms${exit !== 0 ? ` (git exit ${exit}${errLine ? `: ${errLine.slice(0, 200)}` : ''})` : ''}`);
      if (service === 'git-receive-pack' && !advertise && code === 0 && !failure) {
        this.opts.onReceivePack?.({ org: info.org, agent: info.agent, gitDir, before: info.before, userId: info.userId });
      }
    });
  }
}
