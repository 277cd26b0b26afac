// Bounded fuzz of the memfs git service: a few thousand mutated raw HTTP requests (bytes flipped, inserted, cut;
// lines duplicated or dropped; paths and headers swapped for hostile values). The process must answer each with a
// status or a closed socket, stay up, keep its RSS bounded, and still serve a real clone afterwards.
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, newAgentId, ORG, rssKiB, startService, type Service } from './fixture.js';

const COUNT = Number(process.env.FUZZ_REQUESTS ?? 2000);
const PARALLEL = 24;
let svc: Service;
let agent: string;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-fuzz-');
  svc = await startService({ args: ['--max-body-mb', '1', '--max-backends', '4', '--queue', '8'] });
  agent = newAgentId();
  createAgentRepo(svc.root, agent);
});
afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

// A seeded generator, so a failing run can be replayed (FUZZ_SEED).
let seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];

function bases(): string[] {
  const p = `/${svc.secret}/git/${agent}/state.git`;
  const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
  const want = `${pkt('want 0000000000000000000000000000000000000000\n')}0000${pkt('done\n')}`;
  return [
    `GET ${p}/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nX-Organization-Id: ${ORG}\r\nConnection: close\r\n\r\n`,
    `GET ${p}/info/refs?service=git-receive-pack HTTP/1.1\r\nHost: x\r\nX-Organization-Id: ${ORG}\r\nGit-Protocol: version=2\r\nConnection: close\r\n\r\n`,
    `POST ${p}/git-upload-pack HTTP/1.1\r\nHost: x\r\nX-Organization-Id: ${ORG}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: ${want.length}\r\nConnection: close\r\n\r\n${want}`,
    `POST ${p}/git-receive-pack HTTP/1.1\r\nHost: x\r\nX-Organization-Id: ${ORG}\r\nContent-Type: application/x-git-receive-pack-request\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n0000\r\n0\r\n\r\n`,
  ];
}

const HOSTILE = ['%2e%2e', '..', '%2f', '%00', '//', '\\', `agent-${'9'.repeat(36)}`, 'ä', '%', '?service=', '#', ' ', 'state.git'];
const HEADERS = [
  'Content-Encoding: gzip', 'Content-Encoding: br', 'Content-Length: 99999999', 'Content-Length: -1', 'Transfer-Encoding: chunked',
  `X-Organization-Id: ../${ORG}`, 'X-Organization-Id: ', 'Git-Protocol: version=2;rm -rf', `X-Organization-Id: ${ORG}`, 'Expect: 100-continue', `X: ${'y'.repeat(20_000)}`,
];

function mutate(req: string): Buffer {
  let b = Buffer.from(req, 'latin1');
  const ops = 1 + rnd(3);
  for (let i = 0; i < ops; i++) {
    switch (rnd(7)) {
      case 0: // flip a byte
        if (b.length) b[rnd(b.length)] = rnd(256);
        break;
      case 1: // cut
        b = b.subarray(0, rnd(b.length + 1));
        break;
      case 2: // insert random bytes
        {
          const at = rnd(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + rnd(16) }, () => rnd(256))), b.subarray(at)]);
        }
        break;
      case 3: // hostile path piece
        {
          const s = b.toString('latin1');
          const slash = s.indexOf('/', 5 + rnd(60));
          if (slash > 0) b = Buffer.from(s.slice(0, slash + 1) + pick(HOSTILE) + s.slice(slash + 1), 'latin1');
        }
        break;
      case 4: // extra or duplicated header
        {
          const s = b.toString('latin1');
          const at = s.indexOf('\r\n');
          if (at > 0) b = Buffer.from(`${s.slice(0, at + 2)}${pick(HEADERS)}\r\n${s.slice(at + 2)}`, 'latin1');
        }
        break;
      case 5: // drop a line
        {
          const lines = b.toString('latin1').split('\r\n');
          lines.splice(1 + rnd(Math.max(1, lines.length - 1)), 1);
          b = Buffer.from(lines.join('\r\n'), 'latin1');
        }
        break;
      default: // body garbage
        b = Buffer.concat([b, Buffer.from(Array.from({ length: rnd(4096) }, () => rnd(256)))]);
    }
  }
  return b;
}

function send(bytes: Buffer, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(svc.port, '127.0.0.1');
    let head = '';
    let got = '';
    const done = (what: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => done(head ? head : 'no answer (cut by us)'), waitMs);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // The final status: Node answers `Expect: 100-continue` with an interim 100 first.
      const statuses = [...got.matchAll(/(?:^|\r\n\r\n)HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      head = statuses.find((s) => s[0] !== '1') ?? (/^HTTP\/1\.1 /.test(got) ? '' : `garbage:${got.slice(0, 20)}`);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(head || 'closed'));
    sock.write(bytes);
  });
}

it(`${COUNT} mutated requests: every answer is a status or a close, the process stays up with bounded RSS`, async () => {
  const pid = svc.proc.pid!;
  const rssStart = rssKiB(pid);
  let rssPeak = rssStart;
  const tally = new Map<string, number>();
  const plainAnswers: string[] = [];
  const base = bases();
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < COUNT) {
        const i = next++;
        // Every 10th request is an unmutated one, which must get a real answer (this is what makes the run able to
        // fail when the service stops answering); mutated ones that wait for a body they never get are cut.
        const plain = i % 10 === 0;
        const what = await send(plain ? Buffer.from(base[i % base.length], 'latin1') : mutate(pick(base)), plain ? 10_000 : 300);
        if (plain) plainAnswers.push(what);
        const key = /^\d{3}$/.test(what) ? `${what[0]}xx` : what.startsWith('garbage') ? 'garbage' : what;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        if (i % 200 === 0) rssPeak = Math.max(rssPeak, rssKiB(pid));
      }
    }),
  );
  rssPeak = Math.max(rssPeak, rssKiB(pid));
  const secs = (Date.now() - started) / 1000;
  console.log(
    `fuzz: ${COUNT} requests in ${secs.toFixed(1)} s; answers ${JSON.stringify(Object.fromEntries(tally))}; ` +
      `RSS start ${(rssStart / 1024).toFixed(0)} MiB, peak ${(rssPeak / 1024).toFixed(0)} MiB`,
  );
  expect(svc.proc.exitCode).toBeNull();
  expect(tally.get('garbage') ?? 0).toBe(0);
  // Unmutated: info/refs GETs are 200, the POSTs (a want of an unknown object) a status from git's run.
  expect(plainAnswers.filter((a) => !/^\d{3}$/.test(a))).toEqual([]);
  // Only statuses we send: 2xx for the valid ones, 4xx/5xx else (no 1xx/3xx).
  for (const k of tally.keys()) expect(['2xx', '4xx', '5xx', 'closed', 'no answer (cut by us)']).toContain(k);
  expect(rssPeak).toBeLessThan(rssStart + 150 * 1024);
  expect(svc.log()).not.toContain(svc.secret);
  // Still serving real git.
  const r = await gitClient(work.dir, ['clone', '-q', svc.base(agent), path.join(work.dir, 'after')]);
  expect(r.code, r.err).toBe(0);
});
