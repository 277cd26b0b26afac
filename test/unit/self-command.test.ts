// The command the tool prints in "fix: run ... init" messages must reach the install that printed it.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeSelfCommand } from '../../src/core/self-command.js';
import { tempDir } from '../helpers/repo.js';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A package install with a bin link, the way npm lays one out under a prefix. */
function prefix(): { dir: string; bin: string; main: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const main = path.join(t.dir, 'lib', 'node_modules', 'letta-memfs-hooks', 'dist', 'runtime', 'cli.mjs');
  fs.mkdirSync(path.dirname(main), { recursive: true });
  fs.writeFileSync(main, '');
  const bin = path.join(t.dir, 'bin', 'letta-memfs-hooks');
  fs.mkdirSync(path.dirname(bin));
  fs.symlinkSync(path.relative(path.dirname(bin), main), bin);
  return { dir: t.dir, bin, main };
}

describe('the command that reaches this install', () => {
  it('is the bare name only when PATH finds this very install', () => {
    const p = prefix();
    expect(computeSelfCommand(p.bin, { PATH: `/nonexistent:${path.dirname(p.bin)}` }, '/usr/bin/node')).toBe('letta-memfs-hooks');
    // Not on PATH (npm install -g --prefix ~/.local without ~/.local/bin on PATH): only its path reaches it.
    expect(computeSelfCommand(p.bin, { PATH: '/usr/bin' }, '/usr/bin/node')).toBe(p.bin);
    // Another install first on PATH: that one would answer, so name this one by path.
    const other = prefix();
    expect(computeSelfCommand(p.bin, { PATH: path.dirname(other.bin) }, '/usr/bin/node')).toBe(p.bin);
  });

  it('names npx with the tarball it ran, and the registry name only for a registry install', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const npxDir = path.join(t.dir, '.npm', '_npx', '0123abcd');
    const argv1 = path.join(npxDir, 'node_modules', '.bin', 'letta-memfs-hooks');
    fs.mkdirSync(npxDir, { recursive: true });
    fs.writeFileSync(path.join(npxDir, 'package.json'), JSON.stringify({ dependencies: { 'letta-memfs-hooks': 'file:../../../my dir/letta-memfs-hooks-0.1.0.tgz' } }));
    expect(computeSelfCommand(argv1, { PATH: '' }, '/usr/bin/node')).toBe(`npx --yes --package='${path.join(t.dir, 'my dir', 'letta-memfs-hooks-0.1.0.tgz')}' letta-memfs-hooks`);
    fs.writeFileSync(path.join(npxDir, 'package.json'), JSON.stringify({ dependencies: { 'letta-memfs-hooks': '^0.1.0' } }));
    expect(computeSelfCommand(argv1, { PATH: '' }, '/usr/bin/node')).toBe('npx letta-memfs-hooks');
  });

  it('is node and the entry file for a source tree, and what init recorded inside a hook', () => {
    expect(computeSelfCommand('/src/lmh/dist/cli/main.js', {}, '/opt/node 20/bin/node')).toBe(`'/opt/node 20/bin/node' /src/lmh/dist/cli/main.js`);
    expect(computeSelfCommand('/data/runtime/0.1.0-abc/dist/runtime/hook.mjs', { LMH_SELF: '~/.local/bin/letta-memfs-hooks' }, '/usr/bin/node')).toBe('~/.local/bin/letta-memfs-hooks');
  });
});
