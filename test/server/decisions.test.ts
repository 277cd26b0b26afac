/** Pure decisions and the sync call's HTTP behaviour (against the Letta double). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { classifySyncResponse, syncFromGit } from '../../src/server/letta/letta-api.js';
import { parseMergeTree } from '../../src/sync/merge.js';
import { planReconcile } from '../../src/sync/plan.js';
import { packedRef } from '../../src/git/refs.js';
import { isServerCommit, planSync } from '../../src/server/letta/sync-state.js';
import { startLettaDouble } from '../fixtures/letta-double.js';
import { parseGitVersion } from '../../src/server/setup/doctor.js';
import { chooseMode, endpointFrom, serviceAnswer } from '../../src/server/setup/server-mode.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('server mode decisions', () => {
  it('stock mode never plans a call: any new main is marked as what Letta holds', () => {
    expect(planSync({ version: 1 }, A, {}, 'stock')).toMatchObject({ action: 'mark', target: A });
    expect(planSync({ version: 1, lastSynced: A }, B, { changedPaths: ['system/x.md'] }, 'stock')).toMatchObject({ action: 'mark', target: B });
    expect(planSync({ version: 1, lastSynced: A }, A, {}, 'stock')).toMatchObject({ action: 'none' });
    expect(planSync({ version: 1, lastSynced: A }, B, { changedPaths: ['system/x.md'] }, 'patched')).toMatchObject({ action: 'call', recompile: true });
  });

  it('init picks the mode: flag, then recorded, then detected; nothing when Letta cannot be asked', () => {
    const stock = { letta: true as const, version: '0.16.7', guarded: false, endpoint: 'missing' as const, detail: '' };
    const patched = { ...stock, endpoint: 'present' as const };
    const down = { letta: false as const, reached: false, detail: 'http://x: ECONNREFUSED' };
    expect(chooseMode('patched', 'stock', stock)).toEqual({ mode: 'patched', why: '--mode' });
    expect(chooseMode(undefined, 'stock', patched)).toEqual({ mode: 'stock', why: 'recorded earlier' });
    expect(chooseMode(undefined, undefined, stock)).toMatchObject({ mode: 'stock' });
    expect(chooseMode(undefined, undefined, patched)).toMatchObject({ mode: 'patched' });
    expect(chooseMode(undefined, undefined, down).mode).toBeUndefined();
  });

  it("reads Letta's answers: a bare 404 is no endpoint; the proxy's 501 is no LETTA_MEMFS_SERVICE_URL", () => {
    expect(endpointFrom(404, 'Not Found')).toBe('missing');
    expect(endpointFrom(404, `Agent with id ${A} not found`)).toBe('present');
    expect(endpointFrom(405, '')).toBe('missing');
    // No answer at all (a loaded Letta timing out) says nothing about the route: never recorded as stock.
    expect(endpointFrom(undefined, 'timeout')).toBe('unknown');
    expect(chooseMode(undefined, undefined, { letta: true, guarded: false, endpoint: 'unknown', detail: 'HTTP timeout' }).mode).toBeUndefined();
    expect(serviceAnswer(200, '001e# service=git-upload-pack\n0000')).toBe('answers');
    expect(serviceAnswer(200, '<html>')).toBe('refused');
    expect(serviceAnswer(501, 'git HTTP requires memfs service')).toBe('not-configured');
    expect(serviceAnswer(500, '')).toBe('unreachable');
    expect(serviceAnswer(undefined, '')).toBe('unreachable');
    expect(serviceAnswer(404, 'not found')).toBe('refused');
  });
});

describe('planSync', () => {
  it('calls only when main moved, recompiling only for system/ changes', () => {
    expect(planSync({ version: 1, lastSynced: A }, A)).toMatchObject({ action: 'none' });
    expect(planSync({ version: 1 }, undefined)).toMatchObject({ action: 'none' });
    expect(planSync({ version: 1 }, A)).toMatchObject({ action: 'call', target: A, recompile: true });
    expect(planSync({ version: 1, lastSynced: A }, B, { changedPaths: ['notes/x.md'] })).toMatchObject({ action: 'call', target: B, recompile: false });
    expect(planSync({ version: 1, lastSynced: A }, B, { changedPaths: ['notes/x.md', 'system/human.md'] })).toMatchObject({ recompile: true });
    expect(planSync({ version: 1, lastSynced: A }, B, {})).toMatchObject({ action: 'call', recompile: true });
    expect(planSync({ version: 1, lastSynced: A }, B, { changedPaths: ['system/a.md'], serverOrigin: true })).toMatchObject({ action: 'mark', target: B });
    // A pending target from an older head is never synced: the plan always targets the current head.
    expect(planSync({ version: 1, lastSynced: A, pending: { target: B, since: '', attempts: 3 } }, C, { changedPaths: [] })).toMatchObject({ target: C, recompile: false });
  });

  it('recognises Letta server commits only by both author and message', () => {
    expect(isServerCommit('user-00000000-0000-4000-8000-000000000000@letta.ai', 'Update system/human block')).toBe(true);
    expect(isServerCommit('system@letta.ai', 'Initial commit')).toBe(true);
    expect(isServerCommit('user-00000000-0000-4000-8000-000000000000@letta.ai', 'my own edit')).toBe(false);
    expect(isServerCommit('me@example.com', 'Update system/human block')).toBe(false);
  });
});

describe('planReconcile and merge-tree parsing', () => {
  it('chooses each step from main, the external main and their base', () => {
    expect(planReconcile({})).toBe('nothing');
    expect(planReconcile({ remote: A })).toBe('create-main');
    expect(planReconcile({ local: A })).toBe('seed');
    expect(planReconcile({ local: A, remote: A })).toBe('equal');
    expect(planReconcile({ local: A, remote: B, base: A })).toBe('fast-forward');
    expect(planReconcile({ local: A, remote: B, base: B })).toBe('push');
    expect(planReconcile({ local: A, remote: B, base: C })).toBe('merge');
    expect(planReconcile({ local: A, remote: B })).toBe('merge');
  });

  it('reads the tree and the external side of each conflicted path', () => {
    const out = [C, `100644 ${A} 1\tsystem/x.md`, `100644 ${A} 2\tsystem/x.md`, `100644 ${B} 3\tsystem/x.md`, `100644 ${A} 1\tgone.md`, `100644 ${A} 2\tgone.md`, ''].join('\0');
    const r = parseMergeTree(out);
    expect(r.tree).toBe(C);
    expect([...r.conflicts]).toEqual([
      ['system/x.md', { mode: '100644', oid: B }],
      ['gone.md', undefined],
    ]);
    expect(parseMergeTree(`${C}\0`).conflicts.size).toBe(0);
  });

  it('reads packed refs and git versions', () => {
    expect(packedRef(`# pack-refs with: peeled\n${A} refs/heads/main\n${B} refs/heads/mainx\n`, 'refs/heads/main')).toBe(A);
    expect(packedRef(`${B} refs/heads/mainx\n`, 'refs/heads/main')).toBeUndefined();
    expect(parseGitVersion('git version 2.39.5')).toEqual([2, 39, 5]);
    expect(parseGitVersion('git version 2.40.1.windows.1')).toEqual([2, 40, 1]);
  });
});

describe('sync-from-git call', () => {
  const ID = 'agent-123e4567-e89b-42d3-a456-426614174000';
  it('maps 404, 409, 401 and redirects to one-line errors with the fix', () => {
    expect(classifySyncResponse(ID, 404, '{"detail":"Not Found"}').message).toMatch(/^sync endpoint missing: apply the server patch \(.+ patch-server\)$/);
    expect(classifySyncResponse(ID, 404, `{"detail":"Agent with id ${ID} not found"}`).message).toMatch(/does not know agent/);
    expect(classifySyncResponse(ID, 409, '{"detail":"git memory is not enabled"}').message).toMatch(/^memfs not enabled for this server\/agent/);
    expect(classifySyncResponse(ID, 401, '{}')).toMatchObject({ retryable: false });
    expect(classifySyncResponse(ID, 503, '{}')).toMatchObject({ retryable: true });
    expect(classifySyncResponse(ID, 429, '{}')).toMatchObject({ retryable: true });
    expect(classifySyncResponse(ID, 307, '', 'http://elsewhere/')).toMatchObject({ retryable: false });
  });

  it('retries 5xx and 429 (undici does not retry POST) and succeeds', async () => {
    const d = await startLettaDouble({ memfsRoot: '/nonexistent', knownAgents: [ID], password: 'p4ssw0rd' });
    try {
      d.failNext(2);
      const r = await syncFromGit({ baseUrl: d.url, password: 'p4ssw0rd', timeoutMs: 2000, retries: 3, backoffMs: 1 }, ID, true);
      expect(r.attempts).toBe(3);
      expect(d.calls.map((c) => c.status)).toEqual([500, 500, 200]);
      await d.setMode('busy');
      await expect(syncFromGit({ baseUrl: d.url, password: 'p4ssw0rd', timeoutMs: 2000, retries: 1, backoffMs: 1 }, ID, false)).rejects.toMatchObject({ status: 429 });
      expect(d.calls.slice(3).map((c) => c.status)).toEqual([429, 429]);
      await d.setMode('not-enabled');
      await expect(syncFromGit({ baseUrl: d.url, password: 'p4ssw0rd', timeoutMs: 2000, retries: 3, backoffMs: 1 }, ID, false)).rejects.toThrow(/memfs not enabled/);
      expect(d.calls).toHaveLength(6);
    } finally {
      await d.close();
    }
  });

  it('never follows a redirect with the Authorization header', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const port = (other.address() as AddressInfo).port;
    const redirector = http.createServer((req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${port}${req.url}` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
      await expect(syncFromGit({ baseUrl: url, password: 'leak-me-not', timeoutMs: 2000, retries: 2, backoffMs: 1 }, ID, false)).rejects.toThrow(/redirecting to .*not following it with credentials/);
      expect(seen).toHaveLength(0);
    } finally {
      redirector.close();
      other.close();
    }
  });

  it('gives up after the retries on a dead port with a retryable error', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await expect(syncFromGit({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000, retries: 2, backoffMs: 1 }, ID, false)).rejects.toMatchObject({
      retryable: true,
      message: expect.stringMatching(/cannot reach Letta .*ECONNREFUSED/),
    });
  });
});
