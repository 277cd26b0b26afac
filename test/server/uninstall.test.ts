/** `uninstall --server`, as an operator runs it: the built CLI against Letta-style repos set up by `init --server`. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { snapshot } from '../helpers/repo.js';
import { type Harness, makeHarness } from './harness.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.cleanup());

function cli(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(process.execPath, [CLI, ...args], {
      cwd: h.root,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(h.root, 'xdg'), LETTA_MEMFS_INTERNAL: undefined },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out, err: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, out: err.stdout, err: err.stderr };
  }
}

it('restores every agent repo.git to its bytes before init --server, and keeps nothing of ours', async () => {
  const agents = [await h.addAgent({ 'system/human.md': '---\ndescription: h\n---\nhi\n' }), await h.addAgent()];
  const before = agents.map((a) => snapshot(a.gitDir));

  const init = cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`, '--letta-url', h.letta.url]);
  expect(init.code, init.err).toBe(0);
  expect(snapshot(agents[0].gitDir)['hooks/reference-transaction']).toBeDefined();

  const res = cli(['uninstall', '--server', '--all', '--memfs-root', h.memfsRoot]);
  expect(res.code, res.err).toBe(0);
  expect(res.out).toContain(`${agents[0].agentId}: restored`);
  agents.forEach((a, i) => expect(snapshot(a.gitDir)).toEqual(before[i]));
});

it('needs --agent or --all, and names an unknown agent in one line without touching the others', async () => {
  const a = await h.addAgent();
  expect(cli(['init', '--server', '--memfs-root', h.memfsRoot, '--remote', `${h.extRoot}/{agentId}.git`]).code).toBe(0);
  const installed = snapshot(a.gitDir);

  const none = cli(['uninstall', '--server', '--memfs-root', h.memfsRoot]);
  expect(none.code).toBe(2);
  expect(none.err.trim().split('\n')).toHaveLength(1);

  const unknown = cli(['uninstall', '--server', '--agent', 'agent-00000000-0000-4000-8000-00000000dead', '--memfs-root', h.memfsRoot]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.err.trim().split('\n')).toHaveLength(1);
  expect(snapshot(a.gitDir)).toEqual(installed);
});
