// Bounded fuzzing of one watch endpoint: seed requests mutated at the byte and the HTTP level, sent over raw
// sockets (loopback) with a fixed concurrency; a deterministic PRNG so a failing run can be replayed by its seed.
import { mulberry32 } from '../helpers/prng.js';
import { expect } from 'vitest';
import { raw, req, rssKb, type WatchProc } from './watch-process.js';


const NASTY = ['%', '%zz', '%00', '%C0%AF', '\x00', '\r\n', '\n', '\u00ff', '../', '//', '?', '#', ' ', '\t', ':', ',', '"', '{', '}', '[', 'A'.repeat(5000)];

function mutate(seed: Buffer, rnd: () => number): Buffer {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const text = seed.toString('latin1');
  const [head, ...rest] = text.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  const lines = head.split('\r\n');
  switch (Math.floor(rnd() * 10)) {
    case 0: {
      // flip bits
      const b = Buffer.from(seed);
      for (let i = 0, k = 1 + Math.floor(rnd() * 8); i < k; i++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      return b;
    }
    case 1: // truncate anywhere
      return seed.subarray(0, Math.floor(rnd() * seed.length));
    case 2: {
      // nasty text into the request line
      const [m, t, v] = lines[0].split(' ');
      const at = Math.floor(rnd() * (t.length + 1));
      lines[0] = [m, t.slice(0, at) + pick(NASTY) + t.slice(at), v].join(' ');
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    }
    case 3: // duplicate or drop a header line
      if (lines.length > 1) {
        const i = 1 + Math.floor(rnd() * (lines.length - 1));
        if (rnd() < 0.5) lines.splice(i, 0, lines[i]);
        else lines.splice(i, 1);
      }
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    case 4: {
      // a wrong Content-Length
      const cl = pick(['0', '1', '-1', '99999999999', 'abc', String(Math.floor(rnd() * 600_000)), '1, 2', '']);
      return Buffer.from(`${lines.map((l) => (/^content-length:/i.test(l) ? `Content-Length: ${cl}` : l)).join('\r\n')}\r\n\r\n${body}`, 'latin1');
    }
    case 5: // another method
      lines[0] = lines[0].replace(/^\S+/, pick(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'FOO', 'post', '']));
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    case 6: {
      // nasty value into a header
      const i = Math.floor(rnd() * lines.length);
      lines[i] = lines[i] + pick(NASTY);
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    }
    case 7: {
      // the body replaced: wrong JSON types, junk, oversized (Content-Length kept right)
      const b = pick(['null', '[]', '{"ref":{}}', '{"repository":1}', '{', '\xff\xfe', 'payload=%7B', 'x'.repeat(300 * 1024), '{"ref":"refs/heads/main","repository":{"clone_url":[]}}']);
      return Buffer.from(`${lines.filter((l) => !/^content-length:/i.test(l)).join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(b, 'latin1')}\r\n\r\n${b}`, 'latin1');
    }
    case 8: // chunked, maybe malformed
      return Buffer.from(`${lines.filter((l) => !/^content-length:/i.test(l)).join('\r\n')}\r\nTransfer-Encoding: chunked\r\n\r\n${pick([`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, 'zz\r\n', `ffffffff\r\n${body}`, '0\r\n\r\n'])}`, 'latin1');
    default:
      // random bytes inserted
      return Buffer.concat([seed.subarray(0, Math.floor(rnd() * seed.length)), Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 32) }, () => Math.floor(rnd() * 256))), seed.subarray(Math.floor(rnd() * seed.length))]);
  }
}

export interface FuzzFigures {
  sent: number;
  statuses: Record<string, number>;
  rssBeforeKb: number;
  rssAfterKb: number;
}

/**
 * Sends `count` mutants of `seeds` (the seeds themselves now and then), `concurrency` at a time, each given
 * `timeoutMs` (a mutant that left the server waiting for more is cut by the client). Then checks and prints: the
 * process is alive, still answers, and its RSS grew less than `maxGrowthMb` from after the warm-up to the end.
 */
export async function fuzz(w: WatchProc, name: string, seeds: () => Buffer[], opts: { count: number; seed: number; concurrency?: number; timeoutMs?: number; maxGrowthMb?: number }): Promise<FuzzFigures> {
  const rnd = mulberry32(opts.seed);
  const statuses: Record<string, number> = {};
  const pid = w.child.pid!;
  let sent = 0;
  let rssBeforeKb = 0;
  const warmup = Math.min(300, Math.floor(opts.count / 10));
  const one = async () => {
    while (sent < opts.count) {
      const i = sent++;
      if (i === warmup) rssBeforeKb = rssKb(pid);
      const s = seeds();
      const base = s[Math.floor(rnd() * s.length)];
      // Mostly half-closed after the write, so a mutant the server would wait on (a short body) ends at once; slow
      // clients are test/hostile/http.test.ts's.
      const halfClose = rnd() < 0.9;
      const r = await raw(w.port, rnd() < 0.05 ? base : mutate(base, rnd), { timeoutMs: opts.timeoutMs ?? 1000, after: halfClose ? (sock) => sock.end() : undefined });
      const key = r.status === undefined ? (r.closed ? 'closed' : 'timeout') : String(r.status);
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 24 }, one));
  await new Promise((r) => setTimeout(r, 500));
  const rssAfterKb = rssKb(pid);
  const figures = { sent, statuses, rssBeforeKb, rssAfterKb };
  console.log(`fuzz ${name} (seed ${opts.seed}): ${sent} requests, statuses ${JSON.stringify(statuses)}, RSS ${rssBeforeKb} kB after warm-up -> ${rssAfterKb} kB (${((rssAfterKb - rssBeforeKb) / 1024).toFixed(1)} MB)`);
  expect(w.alive(), w.log()).toBe(true);
  expect(Object.keys(statuses).filter((k) => /^[23]/.test(k) === false && !/^[45]\d\d$|^closed$|^timeout$/.test(k))).toEqual([]);
  expect(statuses['500'] ?? 0, w.log()).toBe(0);
  expect(rssAfterKb - rssBeforeKb).toBeLessThan((opts.maxGrowthMb ?? 64) * 1024);
  const health = await raw(w.port, req(['GET /healthz HTTP/1.1', 'Host: x']));
  expect(health.status).toBe(200);
  return figures;
}
