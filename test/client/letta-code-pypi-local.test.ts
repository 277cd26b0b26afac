import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalAgent, type LettaCodePypi, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { cli, clientSuite, git, gitOk, type Sandbox, sandbox } from './env.js';

// Real Letta Code from PyPI (its bundled node) makes a local-backend agent offline on one machine (one HOME); the
// agent moves to a second machine the way facts file section 8 found it works (its metadata file copied over);
// both checkouts edit memory in the release's default v2 layout, with Letta Code's own pre-commit checking each
// commit; they converge through the basic-auth git host with no commit lost, and Letta Code's own checker and
// `memory status` agree on the result.
const USER = 'memfs-bot';
const TOKEN = 'pypi-local-token-5d21';
const VERSIONS = ['0.33.8', '0.34.12'];

const suite = clientSuite(USER, TOKEN);
const releases = new Map<string, LettaCodePypi>();
beforeAll(() => {
  for (const v of VERSIONS) releases.set(v, lettaCodePypi(v));
}, 900_000);

const lcEnv = (sb: Sandbox) => ({ ...sb.env, LETTA_LOCAL_BACKEND_EXPERIMENTAL: '1' });
const head = (sb: Sandbox, dir: string) => gitOk(sb, dir, ['rev-parse', 'refs/heads/main']);

/** An agent's edit as its system prompt tells it to make one: explicit paths staged, committed with those paths. */
function agentCommit(sb: Sandbox, dir: string, agentId: string, files: Record<string, string>, message: string): string {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  const paths = Object.keys(files);
  gitOk(sb, dir, ['add', '--', ...paths]);
  const r = git(sb, dir, ['commit', `--author=x <${agentId}@letta.com>`, '-m', message, '--', ...paths]);
  if (r.status !== 0) throw new Error(`Letta Code's pre-commit refused ${paths.join(', ')}: ${r.stdout}${r.stderr}`);
  return head(sb, dir);
}

/** Lets vitest's worker answer its RPC between the long synchronous steps (its calls time out after 60 s). */
const breathe = () => new Promise((r) => setImmediate(r));

const core = (name: string, description: string, body: string) => `---\nname: ${name}\ndescription: ${description}\n---\n${body}`;

async function hostReaches(name: string, oid: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (suite.host.git(name, ['rev-parse', '-q', '--verify', 'refs/heads/main']) !== oid) {
    if (Date.now() > deadline) throw new Error(`the host's main is not ${oid} 30 s after the commit`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(VERSIONS)('Letta Code %s (PyPI) local backend on two machines', (version) => {
  it('converges through the host in its default layout, every commit kept, its own checker passing', async () => {
    const lc = releases.get(version)!;
    const root = suite.workspace('lmh-pypi-local-');
    const a = sandbox(path.join(root, 'laptop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const b = sandbox(path.join(root, 'desktop'), { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const agent = createLocalAgent(lc, a.home);
    await breathe();
    const name = `pypi/${version}/${agent.id}.git`;
    const url = await suite.host.createRepo(name);
    const template = url.replace(agent.id, '{agentId}');
    const made = [head(a, agent.dir)];
    expect(fs.readFileSync(path.join(agent.dir, '.git', 'letta-memory-layout-policy'), 'utf8').trim()).toBe('root-marker');

    // Laptop: init in the checkout Letta Code made, then the first round seeds the empty host repo.
    const ia = cli(a, ['init', '--yes', '--git-user', USER, '--remote', template], { cwd: agent.dir });
    expect(ia.status, ia.stderr).toBe(0);
    const pa = cli(a, ['pull'], { cwd: agent.dir });
    expect(pa.status, pa.stderr).toBe(0);
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(made[0]);
    await breathe();

    // Desktop: the agent's metadata copied over (Letta Code lists it then), an empty checkout, init, pull.
    const meta = fs.readdirSync(path.join(a.home, '.letta', 'lc-local-backend', 'agents'));
    fs.mkdirSync(path.join(b.home, '.letta', 'lc-local-backend', 'agents'), { recursive: true });
    for (const f of meta) fs.copyFileSync(path.join(a.home, '.letta', 'lc-local-backend', 'agents', f), path.join(b.home, '.letta', 'lc-local-backend', 'agents', f));
    const listed = lc.run(['--backend', 'local', 'agents', 'list'], lcEnv(b), b.home);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(agent.id);
    await breathe();
    const bdir = path.join(b.home, '.letta', 'lc-local-backend', 'memfs', agent.id, 'memory');
    fs.mkdirSync(bdir, { recursive: true });
    gitOk(b, bdir, ['init', '-q', '-b', 'main']);
    expect(cli(b, ['init', '--yes', '--git-user', USER, '--remote', template], { cwd: bdir }).status).toBe(0);
    expect(cli(b, ['pull'], { cwd: bdir }).status).toBe(0);
    expect(head(b, bdir)).toBe(made[0]);
    // Letta Code opens the agent on the desktop (a headless prompt, offline: it stops at the model lookup, after
    // preparing the checkout): it adopts the pulled HEAD, adds no commit, and writes its hooks and checker there.
    lc.run(['--backend', 'local', '--agent', agent.id, '-p', 'hi'], lcEnv(b), b.home);
    expect(fs.existsSync(path.join(bdir, '.git', 'hooks', 'letta-memory-constraints.cjs'))).toBe(true);
    expect(fs.readFileSync(path.join(bdir, '.git', 'hooks', 'pre-commit'), 'utf8')).toContain('Letta Code');
    expect(head(b, bdir)).toBe(made[0]);
    await breathe();

    // Edits on both sides at once, each through Letta Code's own pre-commit (v2: root core files with name and
    // description, a child folder with its own frontmatter-free MEMORY.md index).
    made.push(agentCommit(a, agent.dir, agent.id, { 'persona.md': core('Persona', 'Who I am', 'Brief and careful.\n') }, 'persona: brief'));
    made.push(
      agentCommit(b, bdir, agent.id, { 'projects/MEMORY.md': '# Projects\n\n- [Lisbon](lisbon.md)\n', 'projects/lisbon.md': core('Lisbon', 'The Lisbon trip', 'In May.\n') }, 'projects: lisbon'),
    );
    made.push(agentCommit(a, agent.dir, agent.id, { 'human.md': core('Human', 'About the human', 'Ada.\n') }, 'human: Ada'));

    // The background pushes race; two rounds on each side bring everything together.
    for (const [sb, dir] of [[a, agent.dir], [b, bdir], [a, agent.dir], [b, bdir]] as const) {
      const r = cli(sb, ['pull'], { cwd: dir });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      await breathe();
    }
    const final = head(a, agent.dir);
    expect(head(b, bdir)).toBe(final);
    await hostReaches(name, final);
    for (const c of made) expect(git(a, agent.dir, ['merge-base', '--is-ancestor', c, final]).status, c).toBe(0);
    expect(fs.readFileSync(path.join(bdir, 'persona.md'), 'utf8')).toContain('Brief and careful.');
    expect(fs.readFileSync(path.join(agent.dir, 'projects', 'lisbon.md'), 'utf8')).toContain('In May.');

    // Letta Code's own views of the merged checkouts: its checker passes on HEAD, its status says clean, in sync.
    for (const [sb, dir] of [[a, agent.dir], [b, bdir]] as const) {
      const checker = spawnSync(lc.node, [path.join(dir, '.git', 'hooks', 'letta-memory-constraints.cjs'), '--audit'], { cwd: dir, env: sb.env, encoding: 'utf8' });
      expect(checker.status, `${checker.stdout}${checker.stderr}`).toBe(0);
      const st = lc.run(['memory', 'status', '--agent', agent.id], lcEnv(sb), sb.home);
      expect(st.status, st.stderr).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ dirty: false, aheadOfRemote: false });
    }
  }, 300_000);
});
