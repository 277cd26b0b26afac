/**
 * A new machine with only the host, under real Letta Code 0.34.12 (PyPI, local backend): `init --all` clones the
 * agent's checkout from the host, and Letta Code's first run uses it as it is (no first commit of its own, its hooks
 * and checker added beside ours), its `memory status` clean and level with the host; its next commit reaches the
 * host through our hooks. The one thing copied besides is Letta Code's record of the agent (~/.letta/lc-local-backend
 * /agents/<base64 id>.json): without it Letta Code answers "Agent ... not found" (facts file, section 8), and the host
 * does not hold it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { createLocalAgent, type LettaCodePypi, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { cli, clientSuite, git, gitOk, type Sandbox, sandbox } from './env.js';

const USER = 'memfs-bot';
const TOKEN = 'first-lc-token-2a7e';
const suite = clientSuite(USER, TOKEN);
let lc: LettaCodePypi;
beforeAll(() => {
  lc = lettaCodePypi('0.34.12');
}, 900_000);

const lcEnv = (sb: Sandbox) => ({ ...sb.env, LETTA_LOCAL_BACKEND_EXPERIMENTAL: '1' });
const head = (sb: Sandbox, dir: string) => gitOk(sb, dir, ['rev-parse', 'refs/heads/main']);
const breathe = () => new Promise((r) => setImmediate(r));
const core = (name: string, description: string, body: string) => `---\nname: ${name}\ndescription: ${description}\n---\n${body}`;

function agentCommit(sb: Sandbox, dir: string, agentId: string, rel: string, text: string, message: string): string {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
  gitOk(sb, dir, ['add', '--', rel]);
  const r = git(sb, dir, ['commit', `--author=x <${agentId}@letta.com>`, '-m', message, '--', rel]);
  if (r.status !== 0) throw new Error(`Letta Code's pre-commit refused ${rel}: ${r.stdout}${r.stderr}`);
  return head(sb, dir);
}

async function hostReaches(name: string, oid: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (suite.host.git(name, ['rev-parse', '-q', '--verify', 'refs/heads/main']) !== oid) {
    if (Date.now() > deadline) throw new Error(`the host's main is not ${oid} 30 s after the commit`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('init --all on a fresh HOME leaves a checkout Letta Code 0.34.12 uses without a first commit of its own', async () => {
  const root = suite.workspace('lmh-first-lc-');
  const a = sandbox(path.join(root, 'laptop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const b = sandbox(path.join(root, 'new-machine'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const agent = createLocalAgent(lc, a.home);
  await breathe();
  const name = `first/${agent.id}.git`;
  const template = (await suite.host.createRepo(name)).replace(agent.id, '{agentId}');

  // The machine the agent lives on: set up, one memory edit, everything on the host.
  expect(cli(a, ['init', '--yes', '--git-user', USER, '--remote', template], { cwd: agent.dir }).status).toBe(0);
  const edited = agentCommit(a, agent.dir, agent.id, 'persona.md', core('Persona', 'Who I am', 'Brief and careful.\n'), 'persona: brief');
  expect(cli(a, ['pull'], { cwd: agent.dir }).status).toBe(0);
  await hostReaches(name, edited);
  await breathe();

  // The new machine: nothing but Letta Code's record of the agent.
  const records = path.join('.letta', 'lc-local-backend', 'agents');
  fs.mkdirSync(path.join(b.home, records), { recursive: true });
  for (const f of fs.readdirSync(path.join(a.home, records))) fs.copyFileSync(path.join(a.home, records, f), path.join(b.home, records, f));
  const bdir = path.join(b.home, '.letta', 'lc-local-backend', 'memfs', agent.id, 'memory');
  expect(fs.existsSync(bdir)).toBe(false);
  const started = Date.now();
  const init = cli(b, ['init', '--all', '--git-user', USER, '--remote', template], { cwd: b.home });
  const initMs = Date.now() - started;
  expect(init.stderr).toBe('');
  expect(init.status).toBe(0);
  expect(init.stdout).toContain(`${agent.id}: cloned from the host, set up, origin ${template.replace('{agentId}', agent.id)} (local backend)`);
  expect(head(b, bdir)).toBe(edited);
  console.log(`init --all cloned and set up 1 agent in ${initMs} ms`);
  await breathe();

  // Letta Code opens the agent there (headless, offline: it stops at the model lookup after preparing the checkout).
  lc.run(['--backend', 'local', '--agent', agent.id, '-p', 'hi'], lcEnv(b), b.home);
  expect(head(b, bdir)).toBe(edited);
  expect(gitOk(b, bdir, ['rev-list', '--count', 'HEAD'])).toBe(gitOk(a, agent.dir, ['rev-list', '--count', 'HEAD']));
  expect(fs.existsSync(path.join(bdir, '.git', 'hooks', 'letta-memory-constraints.cjs'))).toBe(true);
  expect(fs.readFileSync(path.join(bdir, '.git', 'hooks', 'pre-commit'), 'utf8')).toContain('Letta Code');
  expect(fs.readFileSync(path.join(bdir, 'persona.md'), 'utf8')).toContain('Brief and careful.');
  const st = lc.run(['memory', 'status', '--agent', agent.id], lcEnv(b), b.home);
  expect(st.status, st.stderr).toBe(0);
  expect(JSON.parse(st.stdout)).toMatchObject({ dirty: false, aheadOfRemote: false });
  await breathe();

  // It is a working checkout: an edit there, through Letta Code's own pre-commit, reaches the host by our hooks.
  const next = agentCommit(b, bdir, agent.id, 'human.md', core('Human', 'About the human', 'Ada.\n'), 'human: Ada');
  await hostReaches(name, next);
  expect(cli(a, ['pull'], { cwd: agent.dir }).status).toBe(0);
  expect(head(a, agent.dir)).toBe(next);
}, 300_000);
