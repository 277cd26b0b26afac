// read_only through serve, for every file Letta syncs (every .md outside skills/, and skills/<name>/SKILL.md; not
// only system/ and reference/): judged against main as it is on the server, so no sequence of pushes (delete then
// re-add, rename, several commits, another spelling of true) takes the flag or the content away.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../helpers/repo.js';
import { createAgentRepo, gitClient, memfsFile, newAgentId, startService, type Service } from './fixture.js';

let svc: Service;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  work = tempDir('lmh-memfs-ro-');
  svc = await startService();
});
afterAll(async () => {
  await svc?.stop();
  svc?.cleanup();
  work?.cleanup();
});

const RO = 'read_only: true\n';
const FILES = {
  'system/rules.md': memfsFile('House rules', 'Be kind.', RO),
  'notes/ro.md': memfsFile('Pinned note', 'Never change this.', RO),
  'notes/yes.md': memfsFile('Pinned too', 'YAML 1.1 says yes.', 'read_only: yes\n'),
  'skills/deploy/SKILL.md': memfsFile('Deploy skill', 'Steps.', RO),
  'skills/deploy/notes.md': 'not a block: free text',
  'notes/plain.md': memfsFile('Plain note', 'Editable.'),
};

let n = 0;
async function setup(): Promise<{ gitDir: string; dir: string }> {
  const agent = newAgentId();
  const gitDir = createAgentRepo(svc.root, agent, undefined, FILES);
  const dir = path.join(work.dir, `c${++n}`);
  const r = await gitClient(work.dir, ['clone', '-q', svc.base(agent), dir]);
  expect(r.code, r.err).toBe(0);
  return { gitDir, dir };
}

function change(dir: string, edits: Record<string, string | null>, msg = 'change'): void {
  for (const [file, content] of Object.entries(edits)) {
    if (content === null) sh(dir, ['rm', '-q', file]);
    else {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
  }
  sh(dir, ['add', '-A']);
  sh(dir, ['commit', '-q', '-m', msg]);
}

const main = (gitDir: string) => sh(gitDir, ['--git-dir', gitDir, 'rev-parse', 'refs/heads/main']);

async function refused(dir: string, gitDir: string, pattern: RegExp): Promise<void> {
  const before = main(gitDir);
  const r = await gitClient(dir, ['push', 'origin', 'main']);
  expect(r.code, r.err).not.toBe(0);
  expect(r.err).toMatch(pattern);
  expect(main(gitDir)).toBe(before);
  sh(dir, ['reset', '-q', '--hard', 'origin/main']);
}

describe('serve: read_only cannot be lost by any sequence of pushes', () => {
  it('deleting a read_only file is refused (so a later re-add cannot make a new block without the flag)', async () => {
    const { gitDir, dir } = await setup();
    for (const file of ['system/rules.md', 'notes/ro.md', 'skills/deploy/SKILL.md']) {
      change(dir, { [file]: null });
      await refused(dir, gitDir, new RegExp(`push refused: ${file.replace(/[./]/g, '\\$&')}: is read_only on the server and cannot be deleted or renamed`));
    }
  });

  it('delete and re-add without the flag in two commits of one push: the tip is judged against main, refused', async () => {
    const { gitDir, dir } = await setup();
    change(dir, { 'notes/ro.md': null }, 'delete');
    change(dir, { 'notes/ro.md': memfsFile('Pinned note', 'Changed after all.') }, 're-add');
    await refused(dir, gitDir, /notes\/ro\.md: is read_only on the server and cannot be edited/);
  });

  it('a rename (git mv) is refused: the old path is deleted, the new one sets read_only on a new file', async () => {
    const { gitDir, dir } = await setup();
    sh(dir, ['mv', 'notes/ro.md', 'notes/ro2.md']);
    sh(dir, ['commit', '-q', '-m', 'rename']);
    await refused(dir, gitDir, /notes\/ro\.md: is read_only on the server and cannot be deleted or renamed/);
  });

  it('outside system/ and reference/: an edit, a dropped flag, read_only: false are refused; "yes" counts as true', async () => {
    const { gitDir, dir } = await setup();
    for (const content of [memfsFile('Pinned note', 'Changed.', RO), memfsFile('Pinned note', 'Never change this.'), memfsFile('Pinned note', 'Never change this.', 'read_only: false\n')]) {
      change(dir, { 'notes/ro.md': content });
      await refused(dir, gitDir, /notes\/ro\.md: is read_only on the server and cannot be edited/);
    }
    change(dir, { 'notes/yes.md': memfsFile('Pinned too', 'Changed.', 'read_only: yes\n') });
    await refused(dir, gitDir, /notes\/yes\.md: is read_only on the server and cannot be edited/);
    change(dir, { 'skills/deploy/SKILL.md': memfsFile('Deploy skill', 'Other steps.', RO) });
    await refused(dir, gitDir, /skills\/deploy\/SKILL\.md: is read_only on the server and cannot be edited/);
    change(dir, { 'notes/plain.md': memfsFile('Plain note', 'Editable.', RO) });
    await refused(dir, gitDir, /notes\/plain\.md: read_only is set by the server and cannot be added by a client/);
  });

  it('files Letta never syncs and editable blocks still change freely, one push after another', async () => {
    const { gitDir, dir } = await setup();
    change(dir, { 'notes/plain.md': memfsFile('Plain note', 'Edited once.'), 'skills/deploy/notes.md': null });
    expect((await gitClient(dir, ['push', 'origin', 'main'])).code).toBe(0);
    change(dir, { 'notes/plain.md': null, 'notes/other.md': 'no frontmatter at all' });
    const r = await gitClient(dir, ['push', 'origin', 'main']);
    expect(r.code, r.err).toBe(0);
    expect(main(gitDir)).toBe(sh(dir, ['rev-parse', 'HEAD']));
  });
});
