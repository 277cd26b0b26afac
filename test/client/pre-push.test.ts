import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT, AGENT2, CLI, cli, clientSuite, commitAll, gitOk, initCheckout, LETTA_BASE, lettaGit, makeCheckout, md, sandbox, snapshot, writeFile, type Sandbox } from './env.js';

const USER = 'memfs-bot';
const TOKEN = 'prepush-token-51ab';

const suite = clientSuite(USER, TOKEN);

const READ_ONLY = `---\ndescription: Set by the operator\nread_only: true\n---\nDo not change.\n`;

/** An initialised checkout, pulled, whose external repo holds a normal and a read_only block. */
async function ready(): Promise<{ sb: Sandbox; checkout: string; name: string }> {
  const t = { dir: suite.workspace('lmh-prepush-') };
  const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const name = `p/${Math.random().toString(36).slice(2)}/${AGENT}.git`;
  const url = await suite.host.createRepo(name, {
    files: {
      'system/human.md': md('About the human', 'Ada\n'),
      'system/rules.md': READ_ONLY,
      'reference/meta.md': `---\ndescription: with metadata\nmetadata:\n  source: server\n---\nx\n`,
    },
  });
  const checkout = makeCheckout(sb, path.join(t.dir, 'memory'));
  const r = initCheckout(sb, checkout, USER, url.replace(AGENT, '{agentId}'));
  expect(r.status, r.stderr).toBe(0);
  expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
  return { sb, checkout, name };
}

/** Pushes main like Letta Code; expects a refusal naming `file` and leaving the external repo where it was. */
function expectRefused(c: { sb: Sandbox; checkout: string; name: string }, file: string, message: RegExp) {
  const before = suite.host.git(c.name, ['rev-parse', 'refs/heads/main']);
  const gitDir = path.join(c.checkout, '.git');
  const local = { config: fs.readFileSync(path.join(gitDir, 'config')), hooks: snapshot(path.join(gitDir, 'hooks')) };
  const r = lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']);
  expect(r.status).not.toBe(0);
  expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(local.config);
  expect(snapshot(path.join(gitDir, 'hooks'))).toEqual(local.hooks);
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('letta-memfs-hooks: push refused: '));
  const line = ours.find((l) => l.includes(`${file}: `));
  expect(line, r.stderr).toBeDefined();
  expect(line).toMatch(message);
  expect(line).toMatch(/\(fix: .+\)$/);
  expect(suite.host.git(c.name, ['rev-parse', 'refs/heads/main'])).toBe(before);
  return r;
}

describe('client pre-push', () => {
  it('accepts well-formed changes, including server-written metadata', async () => {
    const c = await ready();
    writeFile(c.checkout, 'system/human.md', md('About the human', 'Ada Lovelace\n'));
    writeFile(c.checkout, 'reference/meta.md', `---\ndescription: with metadata, edited\nmetadata:\n  source: server\n---\ny\n`);
    writeFile(c.checkout, 'notes/plain.txt', 'plain text, not a block\n');
    const oid = commitAll(c.sb, c.checkout, 'ok');
    const r = lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']);
    expect(r.stderr).not.toMatch(/refused/);
    expect(r.status).toBe(0);
    expect(suite.host.git(c.name, ['rev-parse', 'refs/heads/main'])).toBe(oid);
  });

  it('refuses a binary file anywhere in the tree', async () => {
    const c = await ready();
    writeFile(c.checkout, 'assets/logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]));
    commitAll(c.sb, c.checkout, 'binary');
    expectRefused(c, 'assets/logo.png', /binary file .*git rm --cached -- assets\/logo\.png/);
  });

  it('refuses a non-UTF-8 text file', async () => {
    const c = await ready();
    writeFile(c.checkout, 'notes/latin1.txt', Buffer.from('caf\xe9\n', 'latin1'));
    commitAll(c.sb, c.checkout, 'latin1');
    const r = expectRefused(c, 'notes/latin1.txt', /not valid UTF-8/);
    // A header naming whose rules refused it, then one line for the one problem.
    expect(r.stderr).toContain("letta-memfs-hooks: push refused by the Letta server's rules: 1 problem");
    expect(r.stderr.split('\n').filter((l) => l.startsWith('letta-memfs-hooks: push refused: '))).toHaveLength(1);
  });

  it('refuses broken frontmatter in system/ and reference/', async () => {
    const c = await ready();
    writeFile(c.checkout, 'system/new.md', 'no frontmatter at all\n');
    writeFile(c.checkout, 'reference/open.md', '---\ndescription: never closed\nbody\n');
    writeFile(c.checkout, 'system/nodesc.md', '---\nlimit: 5000\n---\nbody\n');
    writeFile(c.checkout, 'system/badkey.md', '---\ndescription: d\ncolour: blue\n---\nbody\n');
    writeFile(c.checkout, 'system/yaml.md', '---\ndescription: [unclosed\n---\nbody\n');
    commitAll(c.sb, c.checkout, 'broken');
    const r = expectRefused(c, 'system/new.md', /has no frontmatter/);
    expect(r.stderr).toMatch(/reference\/open\.md: frontmatter is opened but never closed/);
    expect(r.stderr).toMatch(/system\/nodesc\.md: frontmatter has no description/);
    expect(r.stderr).toMatch(/system\/badkey\.md: unknown frontmatter key "colour"/);
    expect(r.stderr).toMatch(/system\/yaml\.md: frontmatter is not valid YAML/);
  });

  it('refuses editing a read_only block and changing read_only', async () => {
    const c = await ready();
    writeFile(c.checkout, 'system/rules.md', READ_ONLY.replace('Do not change.', 'Changed anyway.'));
    commitAll(c.sb, c.checkout, 'edit read-only');
    expectRefused(c, 'system/rules.md', /is read_only on the server and cannot be edited/);

    gitOk(c.sb, c.checkout, ['reset', '-q', '--hard', 'origin/main']);
    writeFile(c.checkout, 'system/human.md', md('About the human', 'Ada\n', 'read_only: true\n'));
    commitAll(c.sb, c.checkout, 'add read_only');
    expectRefused(c, 'system/human.md', /read_only is set by the server and cannot be added/);
  });

  it('leaves the content of reflection branches alone (the server syncs main only)', async () => {
    const c = await ready();
    gitOk(c.sb, c.checkout, ['checkout', '-q', '-b', 'letta/reflection/7']);
    writeFile(c.checkout, 'system/draft.md', 'draft without frontmatter\n');
    const oid = commitAll(c.sb, c.checkout, 'draft');
    const r = lettaGit(c.sb, c.checkout, ['push', 'origin', 'letta/reflection/7']);
    expect(r.stderr).not.toMatch(/refused/);
    expect(r.status).toBe(0);
    expect(suite.host.git(c.name, ['rev-parse', 'refs/heads/letta/reflection/7'])).toBe(oid);
  });

  it('refuses a push that still goes to a Letta /v1/git/ URL', async () => {
    const c = await ready();
    // A Letta-shaped URL this checkout's redirect does not cover, served by the fixture so that git gets as far as
    // pre-push (git runs it after talking to the remote).
    const lettaShaped = await suite.host.createRepo(`v1/git/${AGENT2}/state.git`);
    gitOk(c.sb, c.checkout, ['remote', 'add', 'stale', lettaShaped]);
    gitOk(c.sb, c.checkout, ['config', `http.${lettaShaped}.extraHeader`, '']);
    const auth = Buffer.from(`${USER}:${TOKEN}`).toString('base64');
    const r = lettaGit(c.sb, c.checkout, ['-c', `http.${lettaShaped}.extraHeader=Authorization: Basic ${auth}`, 'push', 'stale', 'main']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/push refused: .*\/v1\/git\/.*: this push would go to the Letta \/v1\/git\/ proxy/);
    expect(() => suite.host.git(`v1/git/${AGENT2}/state.git`, ['rev-parse', '--verify', '-q', 'refs/heads/main'])).toThrow();
  });

  it('LETTA_MEMFS_HOOKS=0 lets a push through unchecked', async () => {
    const c = await ready();
    writeFile(c.checkout, 'system/new.md', 'no frontmatter\n');
    const oid = commitAll(c.sb, c.checkout, 'x');
    const r = lettaGit(c.sb, c.checkout, ['push', 'origin', 'main']);
    expect(r.status).not.toBe(0);
    const env = { ...c.sb, env: { ...c.sb.env, LETTA_MEMFS_HOOKS: '0' } };
    expect(lettaGit(env, c.checkout, ['push', 'origin', 'main']).status).toBe(0);
    expect(suite.host.git(c.name, ['rev-parse', 'refs/heads/main'])).toBe(oid);
  });

  it('decides a push without main in shell: no node starts, and status shows it as the last push', async () => {
    const t = { dir: suite.workspace('lmh-prepush-node-') };
    const sb = sandbox(t.dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const url = await suite.host.createRepo(`n/${Math.random().toString(36).slice(2)}/${AGENT}.git`, { files: { 'system/human.md': md('About the human', 'Ada\n') } });
    const checkout = makeCheckout(sb, path.join(t.dir, 'memory'));
    // init records the node it runs on; run it on a link to node that then goes away (as after an nvm upgrade), so
    // the hooks take the first node on PATH: a wrapper that notes every start.
    const gone = path.join(t.dir, 'node-gone');
    fs.linkSync(process.execPath, gone);
    const init = spawnSync(gone, [CLI, 'init', '--yes', '--git-user', USER, '--letta-url', LETTA_BASE, '--remote', url.replace(AGENT, '{agentId}')], { cwd: checkout, env: sb.env, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    fs.rmSync(gone);
    const starts = path.join(t.dir, 'node-starts.log');
    fs.writeFileSync(starts, '');
    fs.writeFileSync(path.join(sb.home, '..', 'bin', 'node'), `#!/bin/sh\necho "$*" >> '${starts}'\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    const nodeStarts = () => fs.readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
    const lastPush = () => JSON.parse(cli(sb, ['status', '--json'], { cwd: checkout }).stdout).lastPush;
    expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);

    // A branch, a tag and a branch deletion: content the server never reads, so pre-push has nothing to check.
    gitOk(sb, checkout, ['checkout', '-q', '-b', 'letta/reflection/1']);
    writeFile(checkout, 'system/draft.md', 'draft without frontmatter\n');
    commitAll(sb, checkout, 'draft');
    gitOk(sb, checkout, ['tag', 'v1']);
    const before = Date.now() - 1000;
    for (const args of [['push', 'origin', 'letta/reflection/1'], ['push', 'origin', 'v1'], ['push', 'origin', ':letta/reflection/1']]) {
      const r = lettaGit(sb, checkout, args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/letta-memfs-hooks/);
    }
    expect(nodeStarts()).toBe(0);
    const shell = lastPush();
    expect(shell).toEqual({ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), url, refused: false });
    expect(Date.parse(shell.at)).toBeGreaterThanOrEqual(before);

    // A push of main is validated every time: node starts, a broken file is refused, and status says so.
    gitOk(sb, checkout, ['checkout', '-q', 'main']);
    writeFile(checkout, 'system/new.md', 'no frontmatter\n');
    commitAll(sb, checkout, 'broken');
    const refused = lettaGit(sb, checkout, ['push', 'origin', 'HEAD:main']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/push refused: system\/new\.md: has no frontmatter/);
    expect(nodeStarts(), fs.readFileSync(starts, 'utf8')).toBe(1);
    expect(lastPush()).toMatchObject({ url, refused: true });
    expect(Date.parse(lastPush().at)).toBeGreaterThanOrEqual(Date.parse(shell.at));

    // The later push wins in status, whichever of the two recorded it.
    await new Promise((r) => setTimeout(r, 20));
    expect(lettaGit(sb, checkout, ['push', 'origin', 'letta/reflection/1']).status).toBe(0);
    expect(nodeStarts()).toBe(1);
    expect(lastPush()).toMatchObject({ url, refused: false });
  });
});
