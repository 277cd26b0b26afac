// The floor of the stock paths in bench/propagation: what Letta's /v1/git/ proxy costs with a bare `git http-backend`
// behind it (no checks, no hooks, no lock: what the community sidecar runs). One front (floor-server.mjs, its own
// process) on the stock Letta's LETTA_MEMFS_SERVICE_URL sends the floor agents' requests to http-backend and every
// other agent's to our `serve`, streamed both ways: ours and the floor share the same Letta and the same extra hop.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Front {
  port: number;
  /** From now on this agent's requests go to the bare http-backend. */
  addFloorAgent(agentId: string): Promise<void>;
  close(): Promise<void>;
}

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-server.mjs');

export async function startFront(memfsRoot: string, secret: string, servePort: number, port: number): Promise<Front> {
  const child = spawn(process.execPath, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
  child.stdin!.end(JSON.stringify({ memfsRoot, secret, servePort, port, traceFile: process.env.LETTA_MEMFS_TRACE }));
  await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))).port as number);
    });
    child.once('exit', (code) => reject(new Error(`floor front exited (${code})`)));
  });
  return {
    port,
    addFloorAgent: (agentId) =>
      new Promise<void>((resolve) => {
        const on = (m: { added?: string }) => {
          if (m.added !== agentId) return;
          child.off('message', on);
          resolve();
        };
        child.on('message', on);
        child.send({ floor: agentId });
      }),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
