/**
 * The memfs git service: smart HTTP for `<memfs-root>/repository/<org>/<agent>/repo.git`, behind Letta's
 * `/v1/git/` proxy (letta/server/rest_api/routers/v1/git_http.py @ 0.16.7). Streams both ways (the proxy sends
 * every POST chunked, without Content-Length: facts §6), caps request bodies, bounds concurrent git processes, and
 * answers every input with a status: no request can stop the process.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { removeQuarantines } from '../../git/quarantine.js';
import { removeStaleRefLocks } from '../../git/stale-ref-locks.js';
import { trace } from '../../core/trace.js';
import { createTotalServer, DEFAULT_LIMITS, type ListenNames, listenOrFail } from '../../core/http/index.js';
import { MAIN, readRef } from '../../git/refs.js';
import { releaseLock, type RedisTarget } from '../letta/redis-lock.js';
import { spawnBackend } from './backend.js';
import type { HookChannel, HookChannels } from './hook-channel.js';
import { BodyTooLarge, byteCap, Slots } from './limits.js';
import { MalformedPktLine, pktLineHead } from './pkt-line.js';
import { decidePush } from './pre-receive.js';
import { advertisementPrefix, route, type GitService } from './route.js';
import type { AccessCheck } from './access.js';
import type { ServeMetrics } from '../metrics/registry.js';

export interface ServiceOptions {
  /** Absolute memfs root (Letta's `~/.letta/memfs`). */
  memfsRoot: string;
  secret: string;
  host: string;
  port: number;
  maxBodyBytes: number;
  maxBackends: number;
  maxQueued: number;
  /** Open connections at once; beyond them node closes a new connection as soon as it is accepted. */
  maxConnections: number;
  /**
   * Says why our pre-receive cannot be trusted to check a push now (missing, altered), or undefined: a push is then
   * refused rather than run by a receive-pack that would skip the missing hook (hooks-dir.ts checkServiceHooks).
   */
  checkHooks?: () => Promise<string | undefined>;
  /** A request with no byte moving either way for this long is cut and its git killed. */
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  /** How the command's user names host and port, for a listen error's fix. */
  listenNames?: ListenNames;
  /**
   * Our hooks directory for receive-pack (core.hooksPath through the environment), and where each push's channel to
   * its pre-receive is made: serve checks the push in its own process (hook-channel.ts).
   */
  hooks?: { dir: string; channels: HookChannels };
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
  onReceivePack?: (push: { org: string; agent: string; gitDir: string; before?: string; userId?: string; startedMs: number }) => void;
  /** Requests by status and refused pushes by rule are counted here (no agent id in them). */
  metrics?: ServeMetrics;
}

/** Why a push was refused, by the HTTP status serve answered it with (pre-receive's refusals are told apart in run()). */
const REFUSAL_RULE: Record<number, string | undefined> = { 400: 'malformed', 413: 'too-large', 504: 'timeout' };

/** receive-pack's report when our pre-receive refused the push (receive-pack.c: "pre-receive hook declined"). */
const HOOK_DECLINED = /pre-receive hook declined/;

// What git's upload-pack and receive-pack say about a request they cannot parse (pkt-line.c, upload-pack.c,
// receive-pack.c @ v2.39).
const PROTOCOL_ERROR = /protocol error|bad line length|expected flush|expected (a )?(want|have|shallow)|unpack-objects abnormal|index-pack abnormal|pack signature mismatch|bad pack header/i;

/**
 * Answers a request refused before its body was read, and reads no more of it. Written on the socket itself, then
 * half-closed: node's response would drain the body once answered (a client could stream one for ever) and then
 * reset the connection over the unread rest, losing the answer. The request is never consumed, so node stops
 * reading once its small buffer is full; the socket is dropped a moment later, when the client has read the answer.
 */
function refuse(req: IncomingMessage, status: number, text: string, extra: Record<string, string> = {}): void {
  const body = `${text}\n`;
  const headers = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', ...extra, Connection: 'close', 'Content-Length': String(Buffer.byteLength(body)) };
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  const socket = req.socket;
  if (socket.writable) socket.end(`${head}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 2_000).unref();
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

  /** git processes running and requests waiting for one, for the queue gauges. */
  get backends(): { running: number; waiting: number } {
    return { running: this.slots.busy, waiting: this.slots.queuedCount };
  }

  /** Counts a request's reply; a receive-pack one refused also counts under its rule. */
  private count(service: GitService | undefined, status: number, rule?: string): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.requests.inc({ service: service ? service.replace(/^git-/, '') : 'none', status: String(status) });
    if (service === 'git-receive-pack' && rule) m.refusals.inc({ rule });
  }

  /**
   * Listens on watch's HTTP front (core/http): total handlers, Node's own 400/431 for malformed HTTP, connection
   * cap, idle and slow clients cut. Rejects with a one-line UserError (port taken, ...) so the command exits at once.
   */
  async start(): Promise<AddressInfo> {
    const { idleTimeoutMs, totalTimeoutMs } = this.opts;
    const server = createTotalServer((req, res) => this.handle(req, res), {
      log: this.opts.log,
      limits: {
        ...DEFAULT_LIMITS,
        headersTimeoutMs: Math.min(10_000, totalTimeoutMs),
        requestTimeoutMs: totalTimeoutMs,
        // run() answers 504 for an idle git exchange first; this cuts any other silent connection.
        idleTimeoutMs: idleTimeoutMs + 5_000,
        maxConnections: this.opts.maxConnections,
      },
      // Never the target: it holds the secret.
      describe: (req) => `${req.method ?? '?'} request`,
    });
    await listenOrFail(server, { host: this.opts.host, port: this.opts.port }, this.opts.listenNames ?? { host: 'host', port: 'port' });
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
    // Liveness and readiness probes (Kubernetes, compose): no secret, no repo, no Letta call; says only "listening".
    if (req.url === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, 'ok');
      return;
    }
    const r = route(req.method ?? '', req.url ?? '', req.headers, this.opts.secret);
    if (!r.ok) {
      // Never the URL (it holds the secret) nor any header (the proxy forwards the client's Authorization).
      this.opts.log(`refused ${req.method ?? '?'} ${r.status}: ${r.reason}`);
      this.count(undefined, r.status);
      refuse(req, r.status, r.status === 404 ? 'not found' : r.reason);
      return;
    }
    const what = `${req.method} ${r.agent} ${r.service}${r.kind === 'advertise' ? ' (refs)' : ''}`;
    if (r.service === 'git-receive-pack') trace(r.kind === 'rpc' ? 'serve.rpc.start' : 'serve.refs.start', r.agent);
    const verdict = await this.opts.access.check(r.actor, r.agent);
    if (verdict !== 'allow') {
      const why = verdict === 'deny' ? [403, 'Letta says this actor cannot reach the agent'] as const : [503, 'cannot ask Letta whether this actor may reach the agent'] as const;
      this.opts.log(`refused ${what} ${why[0]}: ${why[1]}`);
      this.count(r.service, why[0], verdict === 'deny' ? 'forbidden' : 'letta-unavailable');
      refuse(req, why[0], verdict === 'deny' ? 'forbidden' : 'Letta unavailable, try again', verdict === 'deny' ? {} : { 'Retry-After': '5' });
      return;
    }
    // Both ids matched strict patterns in route(): no path is built from anything else.
    const gitDir = path.join(this.opts.memfsRoot, 'repository', r.org, r.agent, 'repo.git');
    // Letta creates repos; we never do. An agent the org does not hold (alone) is the same 404 as any unknown path.
    const holders = await orgsHolding(this.opts.memfsRoot, r.agent);
    if (holders.length !== 1 || holders[0] !== r.org) {
      this.opts.log(`refused ${what} 404: ${holders.length > 1 ? 'agent repo under several orgs' : 'no such repo in this org'}`);
      this.count(r.service, 404, 'not-found');
      refuse(req, 404, 'not found');
      return;
    }
    const unchecked = r.service === 'git-receive-pack' ? await this.opts.checkHooks?.() : undefined;
    if (unchecked) {
      this.opts.log(`refused ${what} 503: ${unchecked} (fix: restart serve, which writes it again)`);
      this.count(r.service, 503, 'hooks-unchecked');
      refuse(req, 503, 'the server cannot check pushes now; try again later');
      return;
    }
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const release = await this.slots.acquire(r.agent, gone.signal);
    if (!release) {
      if (!gone.signal.aborted) {
        this.opts.log(`refused ${what} 503: ${this.slots.busy} git processes running, this agent's share of them and of the queue in use`);
        this.count(r.service, 503, 'busy');
        refuse(req, 503, 'busy, try again', { 'Retry-After': '1' });
      }
      return;
    }
    const push = r.service === 'git-receive-pack' && r.kind === 'rpc' && this.opts.onReceivePack !== undefined;
    if (r.service === 'git-receive-pack' && r.kind === 'rpc') {
      // A receive-pack killed mid-update (a replica killed with -9) left HEAD.lock: no push could move main again.
      const stale = await removeStaleRefLocks(gitDir).catch(() => []);
      if (stale.length > 0) this.opts.log(`${r.agent}: removed ${stale.join(', ')} left by a killed git`);
    }
    const before = push ? await readRef(gitDir, MAIN) : undefined;
    let channel: HookChannel | undefined;
    if (r.service === 'git-receive-pack' && r.kind === 'rpc' && this.opts.hooks) {
      channel = await this.opts.hooks.channels.open().catch((err: Error) => {
        // Without a channel our pre-receive refuses every push: say so now rather than after the upload.
        this.opts.log(`refused ${what} 503: cannot make the channel to our pre-receive: ${err.message.split('\n')[0]}`);
        return undefined;
      });
      if (!channel) {
        release();
        this.count(r.service, 503, 'hooks-unchecked');
        refuse(req, 503, 'the server cannot check pushes now; try again later');
        return;
      }
    }
    await this.run(req, res, r.service, r.kind === 'advertise', r.protocol, gitDir, gone.signal, release, { what, started, org: r.org, agent: r.agent, before, userId: r.actor, channel });
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

  /** One git exchange, streamed both ways; settles once git has exited and the reply is complete or cut. */
  private run(
    req: IncomingMessage,
    res: ServerResponse,
    service: GitService,
    advertise: boolean,
    protocol: string | undefined,
    gitDir: string,
    gone: AbortSignal,
    release: () => void,
    info: { what: string; started: number; org: string; agent: string; before?: string; userId?: string; channel?: HookChannel },
  ): Promise<void> {
    // A push takes Letta's commit lock once checked, while git waits in our pre-receive, with a token of this
    // request; we release it when receive-pack has exited, so main moves only while the lock is ours.
    const redis = service === 'git-receive-pack' && !advertise ? this.opts.redis : undefined;
    const token = `letta-memfs-hooks:push:${randomUUID()}`;
    const channel = info.channel;
    const child = spawnBackend({ service, advertise, gitDir, protocol, hooksDir: this.opts.hooks?.dir, hookEnv: channel?.env });
    if (channel) {
      const lock = redis ? { redis, token, waitMs: this.opts.lockWaitMs ?? 15_000 } : undefined;
      channel.serve((input, closed) => decidePush({ gitDir, agent: info.agent, lock }, input, closed));
      // 'exit', not 'close': a hook still waiting on the channel may hold git's stderr open.
      const end = () => void channel.close().catch((err: Error) => this.opts.log(`${info.agent}: cannot remove a pre-receive channel: ${err.message}`));
      child.once('exit', end);
      child.once('close', end);
    }
    const receiving = service === 'git-receive-pack' && !advertise;
    if (receiving) this.receiving.set(gitDir, (this.receiving.get(gitDir) ?? 0) + 1);
    const dog = new Watchdog(child, this.opts.idleTimeoutMs, this.opts.totalTimeoutMs);
    if (gone.aborted) dog.kill({ status: 499, text: 'client went away' });
    gone.addEventListener('abort', () => {
      if (!res.writableFinished) dog.kill({ status: 499, text: 'client went away' });
    });
    let stderr = '';
    // The end of receive-pack's report (a few hundred bytes): whether our pre-receive refused the push.
    let report = '';
    if (receiving && this.opts.metrics) child.stdout.on('data', (d: Buffer) => (report = (report + d.toString('latin1')).slice(-512)));
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2_000) stderr += d.toString('utf8');
    });
    feedRequest(req, child, advertise, this.opts.maxBodyBytes, dog);
    const contentType = `application/x-${service}-${advertise ? 'advertisement' : 'result'}`;
    child.stdout.once('data', (first: Buffer) => {
      if (dog.failure || res.destroyed) return;
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
      if (advertise) res.write(advertisementPrefix(service, protocol));
      res.write(first);
      child.stdout.on('data', dog.touch);
      child.stdout.pipe(res);
    });
    child.on('error', (err) => dog.kill({ status: 500, text: `cannot run git: ${err.message}` }));
    return new Promise((resolve) => {
      child.on('close', (code, signal) => {
        dog.stop();
        release();
        if (receiving) this.dropQuarantines(gitDir, signal !== null);
        if (redis) releaseLock(redis, info.agent, token).catch((err: Error) => this.opts.log(`${info.agent}: cannot release Letta's commit lock (it expires in 60 s): ${err.message}`));
        if (receiving) trace('serve.rpc.end', info.agent);
        const status = finishReply(res, code, dog.failure, contentType, advertise ? advertisementPrefix(service, protocol) : undefined, stderr);
        this.count(service, status, status === 200 ? (receiving && HOOK_DECLINED.test(report) ? 'pre-receive' : undefined) : REFUSAL_RULE[status]);
        const errLine = stderr.trim().split('\n').pop() ?? '';
        const exit = code ?? signal;
        const why = dog.failure ? ` (${dog.failure.text})` : '';
        this.opts.log(`${info.what} ${status} in ${Date.now() - info.started} ms${why}${exit !== 0 ? ` (git exit ${exit}${errLine ? `: ${errLine.slice(0, 200)}` : ''})` : ''}`);
        if (service === 'git-receive-pack' && !advertise && code === 0 && !dog.failure) {
          this.opts.onReceivePack?.({ org: info.org, agent: info.agent, gitDir, before: info.before, userId: info.userId, startedMs: info.started });
        }
        // The reply is ended or cut by now, except a stdout pipe still flushing: the request lives until then.
        if (res.writableEnded || res.destroyed) resolve();
        else res.once('close', () => resolve());
      });
    });
  }
}

interface Failure {
  status: number;
  text: string;
}

/** Kills git (TERM, then KILL) on the first failure: idle for idleTimeoutMs, over totalTimeoutMs, or a caller's. */
class Watchdog {
  /** The first reason git was killed, if it was. */
  failure: Failure | undefined;
  private idle: NodeJS.Timeout | undefined;
  private readonly total: NodeJS.Timeout;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly idleTimeoutMs: number,
    totalTimeoutMs: number,
  ) {
    this.total = setTimeout(() => this.kill({ status: 504, text: 'timed out' }), totalTimeoutMs);
    this.touch();
  }

  kill(why: Failure): void {
    this.failure ??= why;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      setTimeout(() => this.child.kill('SIGKILL'), 5_000).unref();
    }
  }

  /** Bytes moved: the idle timer starts again. */
  readonly touch = (): void => {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.kill({ status: 504, text: 'timed out (idle)' }), this.idleTimeoutMs);
  };

  stop(): void {
    clearTimeout(this.idle);
    clearTimeout(this.total);
  }
}

const PIPE_CLOSED = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE']);

/** The request body into git's stdin (gunzipped when the client compressed it), capped before and after gunzip. */
function feedRequest(req: IncomingMessage, child: ChildProcessWithoutNullStreams, advertise: boolean, cap: number, dog: Watchdog): void {
  child.stdin.on('error', () => undefined); // git may stop reading early (a refused push); EPIPE is expected
  if (advertise) {
    child.stdin.end();
    req.resume();
    return;
  }
  const gzip = /^(x-)?gzip$/.test(String(req.headers['content-encoding'] ?? ''));
  req.on('data', dog.touch);
  const onBodyError = (err: Error | null | undefined) => {
    if (!err) return;
    // git stopped reading: node destroys its stdin when it exits, and a proxy may send the body's last chunk (the
    // chunked terminator) after git has read the whole pack, moved main and answered (Letta's, under load). Either
    // way git's exit code tells how the push went; a body cut short gives git an early EOF, so it fails on its own.
    if (PIPE_CLOSED.has(String((err as NodeJS.ErrnoException).code))) return;
    if (err instanceof BodyTooLarge) dog.kill({ status: 413, text: `request body over ${cap} bytes` });
    else if (err instanceof MalformedPktLine) dog.kill({ status: 400, text: err.message });
    else dog.kill({ status: 400, text: gzip ? 'bad gzip request body' : 'request body failed' });
  };
  if (gzip) pipeline(req, byteCap(cap), createGunzip(), byteCap(cap), pktLineHead(), child.stdin, onBodyError);
  else pipeline(req, byteCap(cap), pktLineHead(), child.stdin, onBodyError);
}

/** Ends the reply once git exited; returns the status logged. Output already streamed can only be cut. */
function finishReply(res: ServerResponse, code: number | null, failure: Failure | undefined, contentType: string, emptyBody: string | Buffer | undefined, stderr: string): number {
  if (failure) {
    if (failure.status !== 499) send(res, failure.status, failure.text);
    return failure.status;
  }
  if (res.headersSent) {
    // Output already started: all we can do is cut the stream, which the git client reports.
    if (code !== 0) res.destroy();
    return 200;
  }
  if (code !== 0 && PROTOCOL_ERROR.test(stderr)) {
    // Past the framing pktLineHead checks (wants, haves, a pack): still the client's request, not our failure.
    send(res, 400, 'malformed request');
    return 400;
  }
  if (code !== 0) {
    send(res, 500, 'git failed');
    return 500;
  }
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
  res.end(emptyBody);
  return 200;
}
