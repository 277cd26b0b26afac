/** `uninstall --server` and `doctor` on a fresh root, as an operator runs them: the built CLI, Letta-style repos. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { snapshot } from '../helpers/repo.js';
import { type Harness, makeHarness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => h.cleanup());

const cli = (args: string[]) => runCli(args, { cwd: h.root });

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

it('doctor on a fresh memfs root (no repository/ yet) reports it as a failed check with the fix, after the other checks', async () => {
  const fresh = path.join(h.root, 'fresh-memfs');
  await fs.mkdir(fresh);
  const res = runCli(['doctor', '--memfs-root', fresh, '--json'], { cwd: h.root, env: { LETTA_BASE_URL: 'http://127.0.0.1:1' } });
  expect(res.code).toBe(1);
  const checks = JSON.parse(res.out) as { name: string; ok: boolean; fix?: string }[];
  expect(checks.find((c) => c.name === 'git version')?.ok).toBe(true);
  expect(checks.find((c) => c.name === 'memfs root')).toMatchObject({ ok: false, fix: expect.stringContaining('--memfs-root') });
});
