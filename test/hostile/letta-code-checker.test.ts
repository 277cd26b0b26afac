/**
 * The checker `pull` runs before it moves a local-backend checkout's main is Letta Code's file in .git/hooks, run as
 * the user's own hook with the node Letta Code's pre-commit names, and nothing else: a pre-commit we cannot read, a
 * relative path, or a node inside the checkout is refused (fail closed), never guessed at or run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkerNodeOf, findChecker, parseAuditOutput } from '../../src/client/letta-code-checker.js';
import { fixForProblem } from '../../src/client/merge-refusal.js';
import { initRepo, tempDir } from '../helpers/repo.js';

const t = tempDir('lmh-checker-');
afterAll(() => t.cleanup());

// The shape 0.33.3+ writes (buildPreCommitHookScript, letta.js 0.34.12) and the line 0.32.18 writes.
const modern = (quoted: string, electron = false) => `#!/usr/bin/env bash\nrun_memory_node() {\n  ${electron ? 'ELECTRON_RUN_AS_NODE=1 ' : ''}${quoted} "$@"\n}\n`;
const legacy = '#!/usr/bin/env bash\nvalidate_memory_constraints() {\n  if true; then\n    node "$(git rev-parse --git-common-dir)/hooks/letta-memory-constraints.cjs" || exit $?\n  fi\n}\n';

describe("Letta Code's checker: which node runs it", () => {
  it('reads the node of each release shape, and nothing else', () => {
    expect(checkerNodeOf(modern(`'/opt/letta/bin/node'`))).toEqual({ path: '/opt/letta/bin/node', electron: false });
    expect(checkerNodeOf(modern(`'/opt/it'"'"'s/node'`))).toEqual({ path: "/opt/it's/node", electron: false });
    expect(checkerNodeOf(modern(`'/Applications/Letta.app/Letta'`, true))).toEqual({ path: '/Applications/Letta.app/Letta', electron: true });
    expect(checkerNodeOf(legacy)).toBe('PATH');
    for (const hostile of [
      modern(`'bin/node'`), // relative: would resolve inside the checkout
      modern(`'/usr/bin/node'; rm -rf ~; '/x'`),
      modern(`"/usr/bin/node"`),
      '#!/bin/sh\nexec ./evil\n',
      '',
    ]) {
      expect(checkerNodeOf(hostile), hostile).toBeUndefined();
    }
  });

  it('refuses to run a node that lives in the checkout, or any node when the pre-commit does not say which', async () => {
    const dir = initRepo(path.join(t.dir, 'repo'));
    const hooks = path.join(dir, '.git', 'hooks');
    const repo = { gitDir: path.join(dir, '.git'), commonDir: path.join(dir, '.git'), workTree: dir };
    expect(await findChecker(repo)).toBe('absent');
    fs.writeFileSync(path.join(hooks, 'letta-memory-constraints.cjs'), 'process.exit(0)\n');
    fs.writeFileSync(path.join(hooks, 'pre-commit'), '#!/bin/sh\nexit 0\n');
    expect(await findChecker(repo)).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/does not say which node/) });
    const planted = path.join(dir, 'node');
    fs.writeFileSync(planted, '#!/bin/sh\ntouch "$HOME/ran"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(hooks, 'pre-commit'), modern(`'${planted}'`));
    expect(await findChecker(repo)).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/inside the checkout; it is not run/) });
    fs.symlinkSync(planted, path.join(t.dir, 'node-link'));
    fs.writeFileSync(path.join(hooks, 'pre-commit'), modern(`'${path.join(t.dir, 'node-link')}'`));
    expect(await findChecker(repo)).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/inside the checkout/) });
    fs.writeFileSync(path.join(hooks, 'pre-commit'), modern(`'${path.join(t.dir, 'no-such-node')}'`));
    expect(await findChecker(repo)).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/is missing/) });
    fs.writeFileSync(path.join(hooks, 'pre-commit'), modern(`'${process.execPath}'`));
    expect(await findChecker(repo)).toEqual({ script: path.join(hooks, 'letta-memory-constraints.cjs'), node: process.execPath, electron: false });
  });

  it("reads the checker's audit report and words a fix for each problem", () => {
    expect(parseAuditOutput('Memory constraints failed:\n  a/b.md: missing required index a/MEMORY.md\n  core memory: 70000 characters exceeds 65536 from maxCoreMemoryCharacters\n')).toEqual([
      'a/b.md: missing required index a/MEMORY.md',
      'core memory: 70000 characters exceeds 65536 from maxCoreMemoryCharacters',
    ]);
    expect(parseAuditOutput('Segmentation fault\n')).toBeUndefined();
    expect(fixForProblem('a/b.md: missing required index a/MEMORY.md')).toBe('add a/MEMORY.md (an index without frontmatter) or remove a/b.md');
    expect(fixForProblem('n/l.md: 12000 characters exceeds 10000 from maxFileCharacters')).toBe('shorten or split n/l.md to at most 10000 characters (maxFileCharacters)');
    expect(fixForProblem('a/b/c/d.md: depth 3 exceeds maxDepth 2')).toBe('move a/b/c/d.md to at most 2 folders deep');
  });
});
