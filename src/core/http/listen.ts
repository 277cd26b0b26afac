import type http from 'node:http';
import net from 'node:net';
import { UserError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** How the caller's user names the two settings, for the fix in an error (e.g. `--port (webhookPort)`). */
export interface ListenNames {
  host: string;
  port: string;
}

/**
 * Pure: a listen address checked before anything starts, as a usage error (exit 2). The host must be an IP
 * literal or `localhost`: a name would need a DNS lookup at start, which can hang past the fail-fast bound.
 */
export function parseListenAddress(host: string, port: string | number, names: ListenNames): ListenAddress {
  const p = typeof port === 'number' ? port : /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    throw new UserError(`${names.port} must be a port number from 0 to 65535, got ${JSON.stringify(String(port)).slice(0, 40)}`, `give ${names.port} a port from 0 to 65535, e.g. 8284 (0 picks a free one)`, 2);
  }
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h !== 'localhost' && net.isIP(h) === 0) {
    throw new UserError(`${names.host} must be an IP address or localhost, got ${JSON.stringify(host).slice(0, 80)}`, `give ${names.host} an IP address, e.g. 127.0.0.1, 0.0.0.0 (every IPv4 address) or ::`, 2);
  }
  return { host: h, port: p };
}

/**
 * Listens, or rejects within `timeoutMs` with a one-line UserError naming the fix (port taken, no permission,
 * address not on this machine...), so a service without its endpoint exits instead of running half-broken.
 */
export function listenOrFail(server: http.Server, addr: ListenAddress, names: ListenNames, timeoutMs = 1500): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      clearTimeout(timer);
      server.off('error', done);
      if (err === undefined) return resolve();
      server.close();
      reject(listenError(err, addr, names));
    };
    const timer = setTimeout(() => done(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
    server.once('error', done);
    try {
      server.listen(addr.port, addr.host, () => done());
    } catch (err) {
      done(err);
    }
  });
}

/** Pure: the one-line error for a failed listen. */
export function listenError(err: unknown, addr: ListenAddress, names: ListenNames): UserError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const where = `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new UserError(`cannot listen on ${where}: the port is taken`, `stop the process using it, or pass a free ${names.port}`);
    case 'EACCES':
    case 'EPERM':
      return new UserError(`cannot listen on ${where}: permission denied`, `use a port >= 1024 with ${names.port}, or grant the process CAP_NET_BIND_SERVICE`);
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return new UserError(`cannot listen on ${where}: no such address on this machine`, `pass one of this machine's addresses with ${names.host}, or 127.0.0.1, 0.0.0.0 or ::`);
    case 'ERR_SOCKET_BAD_PORT':
      return new UserError(`cannot listen on ${where}: port out of range`, `pass ${names.port} from 0 to 65535`);
    default:
      return new UserError(`cannot listen on ${where}: ${code || (err as Error).message}`.replace(/\s+/g, ' '), `check ${names.host} and ${names.port}`);
  }
}

/**
 * Pure: the base URL another process reaches a listener at. A wildcard address (0.0.0.0, ::) is where to listen, not
 * where to connect: in its place, a placeholder for the name or address the caller reaches this machine by.
 */
export function reachableUrl(address: string, port: number): string {
  if (address === '0.0.0.0' || address === '::' || address === '::ffff:0.0.0.0') return `http://<this machine's address, as Letta reaches it>:${port}`;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
