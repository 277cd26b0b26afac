// Class 6 of issue 17, paths from records: what init records (the install manifest, the runtime's registrations)
// is relative to the repo, so a memfs root copied or mounted elsewhere is uninstalled where it is, and the original
// is never touched (uninstall --server used to act on the absolute paths its manifest held).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBuild } from '../client/env.js';
import { snapshotAll } from './harness.js';
import { makeWorld, SERVER_AGENT, serverInit } from './world.js';

requireBuild();

describe('class 6: uninstall --server acts on the --memfs-root given, not on recorded absolute paths', () => {
  it('init on a root, copy it, uninstall the copy: the copy is restored, the original untouched and still working', async () => {
    const w = await makeWorld({ server: true });
    const init = await w.run(serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`]), { cwd: w.dir });
    expect(init.code, init.err).toBe(0);
    const hooks = (root: string) => path.join(root, path.relative(w.memfs, w.serverGitDir), 'hooks');
    expect(fs.readdirSync(hooks(w.memfs))).toContain('reference-transaction');

    // The volume mounted at another path: a byte-for-byte copy.
    const copy = path.join(w.dir, 'mounted-elsewhere');
    fs.cpSync(w.memfs, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const original = snapshotAll([w.memfs]);

    const r = await w.run(['uninstall', '--server', '--all', '--memfs-root', copy], { cwd: w.dir });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`${SERVER_AGENT}: restored`));
    expect(snapshotAll([w.memfs])).toEqual(original);
    expect(fs.readdirSync(hooks(copy)).filter((h) => !h.endsWith('.sample'))).toEqual([]);
    expect(fs.existsSync(path.join(copy, path.relative(w.memfs, w.serverGitDir), 'letta-memfs'))).toBe(false);

    // And the original still uninstalls cleanly where it is.
    const again = await w.run(['uninstall', '--server', '--all', '--memfs-root', w.memfs], { cwd: w.dir });
    expect(again.code, again.err).toBe(0);
    expect(fs.readdirSync(hooks(w.memfs)).filter((h) => !h.endsWith('.sample'))).toEqual([]);
  });

  it('the manifest holds no absolute path into the memfs root', async () => {
    const w = await makeWorld({ server: true });
    const init = await w.run(serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`]), { cwd: w.dir });
    expect(init.code, init.err).toBe(0);
    const manifest = fs.readFileSync(path.join(w.serverGitDir, 'letta-memfs', 'install.json'), 'utf8');
    expect(manifest).not.toContain(w.memfs);
  });
});
