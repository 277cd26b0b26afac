/** Bounded fuzz of POST /poke/<agentId> on a real watch process: it stays up, answers, and its memory stays bounded. */
import { expect, it } from 'vitest';
import { signPoke } from '../../src/sync/poke-signature.js';
import { fuzz } from './fuzz.js';
import { post, raw, SECRET, type WatchProc, useWatch } from './watch-process.js';

let w: WatchProc;
useWatch((x) => (w = x));

const poke = (agentId: string) => post(`/poke/${agentId}`, Object.entries(signPoke(SECRET, agentId)).map(([k, v]) => `${k}: ${v}`));

it('survives thousands of mutated pokes', async () => {
  const seeds = () => [poke(w.agentId), poke(w.agentId.replace(/.$/, '0')), post(`/poke/${encodeURIComponent(w.agentId)}`, [])];
  const f = await fuzz(w, 'POST /poke/<agentId>', seeds, { count: 3000, seed: 0x5eed02 });
  expect(f.sent).toBe(3000);
  expect((await raw(w.port, poke(w.agentId))).status).toBe(202);
}, 90_000);
