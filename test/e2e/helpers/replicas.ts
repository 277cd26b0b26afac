// Replicas for the fault test: CLI processes that can be killed with -9 and started again with the same arguments,
// and a round-robin TCP front for the serve replicas (what a Kubernetes Service does for LETTA_MEMFS_SERVICE_URL).
import net from 'node:net';
import { CliProcess } from './cli.js';

/** A long-running CLI process (watch, serve) of one replica slot; its logs kept across restarts. */
export class Replica {
  private proc?: CliProcess;
  private logs: string[] = [];
  /** The pid of the running process: leases name it in their holder (host:pid:random). */
  pid?: number;

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly ready: RegExp,
  ) {}

  get up(): boolean {
    return this.proc !== undefined;
  }

  async start(): Promise<void> {
    this.proc = await CliProcess.start(this.args, this.env);
    this.pid = this.proc.pid;
    await this.proc.waitFor(this.ready, 60_000);
  }

  /** kill -9 of the whole process group (the replica and its git children), as a node or container crash. */
  kill9(): void {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.signalGroup('SIGKILL');
    this.logs.push(p.log);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    await p.stop();
    this.logs.push(p.log);
  }

  log(): string {
    return [...this.logs, this.proc?.log ?? ''].join('');
  }
}

/**
 * Listens on a free port and hands each connection to the next backend that accepts it (a dead one is skipped),
 * piping both ways.
 */
export async function roundRobin(backends: number[]): Promise<{ port: number; close: () => Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const attempt = (left: number) => {
      if (left === 0) return void client.destroy();
      const port = backends[next++ % backends.length];
      const up = net.connect({ host: '127.0.0.1', port });
      let connected = false;
      up.once('connect', () => {
        connected = true;
        sockets.add(up);
        up.on('close', () => sockets.delete(up));
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        client.pipe(up).on('close', () => client.destroy());
        up.pipe(client);
        up.on('close', () => client.destroy());
        client.on('close', () => up.destroy());
        client.resume();
      });
      up.once('error', () => {
        if (!connected) attempt(left - 1);
      });
    };
    attempt(backends.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
