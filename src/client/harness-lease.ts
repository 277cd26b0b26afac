/**
 * Whether Letta Code is working in a checkout right now, so that `pull` and the background push leave it alone.
 * Read from the 0.34.12 bundle (letta_code/_payload/app/letta.js):
 * - `.git/letta-memory-operation.lock` (src/agent/memory-operation.ts): the lease a memory worker or repair agent
 *   holds for its whole run, taken with tryAcquireFileLock (src/utils/file-lock.ts) and LEASE_OPTIONS
 *   `reapOnlyDeadOwner: true`. Content: JSON `{pid, started, acquiredAt, token}`, `started` being
 *   `ps -o lstart= -p <pid>` under TZ=UTC LC_ALL=C. It is held while that process runs (isSameProcessRunning in
 *   src/utils/process-liveness.ts: kill(pid, 0) succeeds or fails with EPERM, and `started` matches when both are
 *   known); a file that is not JSON or lacks acquiredAt is held for 100 ms after its mtime (CORRUPT_LOCK_GRACE_MS).
 * - `.git/letta-memory-repair.json` (src/agent/memory-conflict-repair.ts): the repair agent's claim,
 *   `{signature, token, state: "launching" | "done", pid, started?, attemptedAt}`; active while not done and its
 *   process runs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export const OPERATION_LOCK = 'letta-memory-operation.lock';
export const REPAIR_CLAIM = 'letta-memory-repair.json';
const CORRUPT_LOCK_GRACE_MS = 100;

export interface Owner {
  pid: number;
  started?: string;
}

export interface LeaseFiles {
  lock?: { raw: string; mtimeMs: number };
  repair?: string;
}

/** What to ask about processes: the effectful half, a parameter so the decision stays pure. */
export type IsRunning = (owner: Owner) => Promise<boolean>;

function parse(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const ownerOf = (o: Record<string, unknown>): Owner | undefined =>
  typeof o.pid === 'number' ? { pid: o.pid, ...(typeof o.started === 'string' && { started: o.started }) } : undefined;

/** Why Letta Code holds the checkout, or undefined when it does not; judged as Letta Code itself judges it. */
export async function harnessHold(files: LeaseFiles, isRunning: IsRunning, now = Date.now()): Promise<string | undefined> {
  if (files.lock) {
    const o = parse(files.lock.raw);
    if (!o || typeof o.acquiredAt !== 'number') {
      if (now - files.lock.mtimeMs <= CORRUPT_LOCK_GRACE_MS) return `Letta Code is taking its memory lease (${OPERATION_LOCK})`;
    } else {
      const owner = ownerOf(o);
      // Letta Code never reaps a lease whose owner it cannot name, so neither do we.
      if (!owner || (await isRunning(owner))) return `Letta Code holds its memory lease (${OPERATION_LOCK}, pid ${owner?.pid ?? 'unknown'}): a memory worker or repair agent is writing this checkout`;
    }
  }
  if (files.repair !== undefined) {
    const o = parse(files.repair);
    const owner = o && ownerOf(o);
    if (o && o.state !== 'done' && owner && (await isRunning(owner))) return `Letta Code's repair agent has claimed this checkout (${REPAIR_CLAIM}, pid ${owner.pid})`;
  }
  return undefined;
}

/** `ps -o lstart=` as Letta Code records it; undefined when ps cannot tell (then Letta Code trusts the pid alone). */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'lstart=', '-p', String(pid)], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** isSameProcessRunning of Letta Code 0.34.12 (src/utils/process-liveness.ts). */
export const processRunning: IsRunning = async ({ pid, started }) => {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!started) return true;
  const now = await startTime(pid);
  return now === undefined || now === started;
};

export async function readLeaseFiles(gitDir: string): Promise<LeaseFiles> {
  const lockPath = path.join(gitDir, OPERATION_LOCK);
  const [raw, st, repair] = await Promise.all([
    fs.readFile(lockPath, 'utf8').catch(() => undefined),
    fs.stat(lockPath).catch(() => undefined),
    fs.readFile(path.join(gitDir, REPAIR_CLAIM), 'utf8').catch(() => undefined),
  ]);
  return { lock: raw !== undefined && st ? { raw, mtimeMs: st.mtimeMs } : undefined, repair };
}

/** How long `pull` and the background push wait for Letta Code to let go before leaving the work to the next round. */
export const HARNESS_WAIT_MS = 5_000;

/** Waits (bounded) until Letta Code does not hold the checkout; returns why it still does, or undefined. */
export async function waitForHarness(gitDir: string, timeoutMs = HARNESS_WAIT_MS, pollMs = 200): Promise<string | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const hold = await harnessHold(await readLeaseFiles(gitDir), processRunning);
    if (!hold || Date.now() >= until) return hold;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
