import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicAuth } from '../fixtures/git-host.js';
import {
  AGENT,
  CLI,
  cli,
  clientSuite,
  cliOnTty,
  commitAll,
  git,
  gitOk,
  LETTA_KEY,
  LETTA_BASE,
  lettaGit,
  lettaUrl,
  makeCheckout,
  md,
  sandbox,
  secretForms,
  snapshot,
  writeFile,
  type Sandbox,
} from './env.js';

const USER = 'memfs-bot';
const TOKEN = 'ext-token-7f3a9c2e1d';

const suite = clientSuite(USER, TOKEN);
const ws = () => suite.workspace('lmh-client-');

/** A fresh external repo (seeded) and a checkout with the Letta origin; returns both. */
async function setup(name = `agents/${Math.random().toString(36).slice(2)}/${AGENT}.git`) {
  const dir = ws();
  const sb = sandbox(dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
  const url = await suite.host.createRepo(name, { files: { 'system/human.md': md('About the human', 'Name: Ada\n') } });
  const remote = url.replace(AGENT, '{agentId}');
  const checkout = makeCheckout(sb, path.join(dir, 'home', '.letta', 'agents', AGENT, 'memory'));
  return { dir, sb, name, url, remote, checkout };
}

function init(sb: Sandbox, checkout: string, args: string[], env: Record<string, string | undefined> = {}) {
  return cli(sb, ['init', '--yes', '--git-user', USER, '--letta-url', LETTA_BASE, ...args], { cwd: checkout, env });
}

function initOk(sb: Sandbox, checkout: string, remote: string) {
  const r = init(sb, checkout, ['--remote', remote]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r;
}

function headersMentionKey(): boolean {
  const b64 = Buffer.from(`letta:${LETTA_KEY}`).toString('base64');
  return suite.host.requests.some((r) => JSON.stringify(r.headers).includes(b64) || JSON.stringify(r.headers).includes(LETTA_KEY));
}

describe('git behaviour the design rests on (git 2.39)', () => {
  it('an empty credential.helper on the command line, as Letta Code passes it, disables a URL-scoped helper in .git/config', async () => {
    const { sb, checkout, url } = await setup();
    const helper = path.join(checkout, '..', 'helper.sh');
    fs.writeFileSync(helper, `#!/bin/sh\n[ "$1" = get ] && printf 'username=${USER}\\npassword=%s\\n' "$LETTA_MEMFS_GIT_TOKEN"\n`, { mode: 0o755 });
    gitOk(sb, checkout, ['config', `credential.${suite.host.url}.helper`, helper]);
    expect(git(sb, checkout, ['ls-remote', url]).status).toBe(0);
    const cleared = git(sb, checkout, ['-c', 'credential.helper=', '-c', 'core.askPass=', 'ls-remote', url]);
    expect(cleared.status).not.toBe(0);
    expect(cleared.stderr).toMatch(/could not read Username/);
  });
});

describe('client init redirects a Letta checkout to the external host', () => {
  it('pull, fetch and push go to the external repo, never with the Letta key, and status says so', async () => {
    const { sb, checkout, url, name, remote } = await setup();
    const r = initOk(sb, checkout, remote);
    expect(r.stdout).toContain(`redirect  ${lettaUrl()} -> ${url}`);

    suite.host.clearRequests();
    const pull = lettaGit(sb, checkout, ['pull', '--ff-only', 'origin', 'main']);
    expect(pull.stderr).not.toMatch(/fatal/);
    expect(pull.status).toBe(0);
    expect(fs.readFileSync(path.join(checkout, 'system/human.md'), 'utf8')).toContain('Name: Ada');

    writeFile(checkout, 'system/persona.md', md('Who I am', 'Helpful.\n'));
    const head = commitAll(sb, checkout, 'persona');
    const push = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(push.status).toBe(0);
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/main'])).toBe(head);

    // Someone else pushes to the external repo; fetch in the checkout sees it.
    const other = path.join(checkout, '..', 'other');
    gitOk(sb, path.dirname(other), ['-c', `http.extraHeader=Authorization: ${basicAuth(USER, TOKEN)}`, 'clone', '-q', url, other]);
    writeFile(other, 'reference/notes.md', md('Notes', 'x\n'));
    const theirs = commitAll(sb, other, 'notes');
    gitOk(sb, other, ['-c', `http.extraHeader=Authorization: ${basicAuth(USER, TOKEN)}`, 'push', '-q', 'origin', 'main']);
    expect(lettaGit(sb, checkout, ['fetch', 'origin']).status).toBe(0);
    expect(gitOk(sb, checkout, ['rev-parse', 'refs/remotes/origin/main'])).toBe(theirs);
    // A pull that merges fires post-merge; the client's shim notes it for status without starting node.
    expect(fs.existsSync(path.join(checkout, '.git', 'letta-memfs', 'last-post-merge'))).toBe(false);
    expect(lettaGit(sb, checkout, ['pull', '--ff-only', 'origin', 'main']).status).toBe(0);
    expect(gitOk(sb, checkout, ['rev-parse', 'HEAD'])).toBe(theirs);

    const seen = suite.host.requests;
    expect(seen.some((q) => q.path.endsWith('/git-receive-pack'))).toBe(true);
    expect(seen.some((q) => q.path.endsWith('/git-upload-pack'))).toBe(true);
    expect(seen.every((q) => q.status !== 401)).toBe(true);
    expect(headersMentionKey()).toBe(false);

    // The raw origin still names Letta (so Letta Code's origin repair has nothing to fix); git resolves it to the suite.host.
    expect(gitOk(sb, checkout, ['config', 'remote.origin.url'])).toBe(lettaUrl());
    expect(gitOk(sb, checkout, ['remote', 'get-url', '--push', 'origin'])).toBe(url);

    const st = cli(sb, ['status', '--json'], { cwd: checkout });
    expect(st.status).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s).toMatchObject({ installed: true, role: 'client', agentId: AGENT, remote: url, redirected: true });
    expect(s.hooks.map((h: { name: string; state: string }) => `${h.name}:${h.state}`)).toEqual(['pre-push:installed', 'post-merge:installed', 'post-checkout:installed']);
    expect(s.auth).toMatchObject({ present: true, mode: '600', token: 'current' });
    expect(s.lastPush).toMatchObject({ url, refused: false });
    expect(s.remoteMain).toMatchObject({ oid: theirs, ahead: 0, behind: 0 });
    expect(s.lastPull).toMatch(/^\d{4}-\d\d-\d\dT/);
    const text = cli(sb, ['status'], { cwd: checkout });
    expect(text.stdout).toMatch(/origin\s+redirected/);
    expect(text.stdout).toContain(AGENT);
  });

  it('keeps the external token out of argv, .git/config and every log line', async () => {
    const { sb, checkout, remote } = await setup();
    const r = initOk(sb, checkout, remote);
    writeFile(checkout, 'system/x.md', md('x', 'y\n'));
    lettaGit(sb, checkout, ['pull', '-q', '--no-rebase', 'origin', 'main']);
    commitAll(sb, checkout, 'x');
    const push = lettaGit(sb, checkout, ['push', 'origin', 'main']);
    expect(push.status).toBe(0);
    const st = cli(sb, ['status'], { cwd: checkout });

    const forms = secretForms(USER, TOKEN);
    const argv = fs.readFileSync(sb.argvLog, 'utf8');
    // The wrapper saw init's own git calls (ls-remote through the header, config reads; its config writes to a new
    // section need no git, git/config-file.ts) and the hooks' calls.
    // (git puts its exec-path first on PATH for hooks, so the hooks' own git calls bypass the wrapper; they are
    // ls-tree and cat-file on local objects.)
    expect(argv).toContain('ls-remote\t--heads');
    expect(argv).toContain('config\t--get\tremote.origin.url');
    const config = fs.readFileSync(path.join(checkout, '.git', 'config'), 'utf8');
    const texts = { argv, config, initOut: r.stdout + r.stderr, push: push.stdout + push.stderr, status: st.stdout + st.stderr };
    for (const [where, text] of Object.entries(texts)) {
      for (const f of forms) expect(text.includes(f), `${where} contains the token`).toBe(false);
    }
    // Only the 0600 include holds it.
    const auth = path.join(checkout, '.git', 'letta-memfs', 'http-auth.gitconfig');
    expect(fs.statSync(auth).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(auth, 'utf8')).toContain(forms[1]);
    // Without the include (deleted by hand) git fails with a 401 and still never sends the Letta key.
    suite.host.clearRequests();
    fs.renameSync(auth, `${auth}.away`);
    expect(lettaGit(sb, checkout, ['fetch', 'origin']).status).not.toBe(0);
    expect(suite.host.requests.length).toBeGreaterThan(0);
    expect(suite.host.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    fs.renameSync(`${auth}.away`, auth);
    expect(lettaGit(sb, checkout, ['fetch', 'origin']).status).toBe(0);
    // Nothing else we wrote (state dir, hooks, user config dir) holds it either.
    const ours = [path.join(checkout, '.git', 'letta-memfs'), path.join(checkout, '.git', 'hooks'), sb.home];
    for (const root of ours) {
      for (const [file, entry] of Object.entries(snapshot(root))) {
        if (path.join(root, file) === auth) continue;
        const text = Buffer.from(entry.slice(entry.indexOf(':') + 1), 'base64').toString('utf8');
        for (const f of forms) expect(text.includes(f), `${path.join(root, file)} contains the token`).toBe(false);
      }
    }
  });

  it('is idempotent, and refreshes the stored token when it changed', async () => {
    const { sb, checkout, remote } = await setup();
    initOk(sb, checkout, remote);
    const gitDir = path.join(checkout, '.git');
    const first = { config: fs.readFileSync(path.join(gitDir, 'config')), hooks: snapshot(path.join(gitDir, 'hooks')), state: snapshot(path.join(gitDir, 'letta-memfs')) };
    initOk(sb, checkout, remote);
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(first.config);
    expect(snapshot(path.join(gitDir, 'hooks'))).toEqual(first.hooks);
    expect(snapshot(path.join(gitDir, 'letta-memfs'))['http-auth.gitconfig']).toEqual(first.state['http-auth.gitconfig']);

    const stale = cli(sb, ['status', '--json'], { cwd: checkout, env: { LETTA_MEMFS_GIT_TOKEN: 'rotated-token-1' } });
    expect(JSON.parse(stale.stdout).auth.token).toBe('stale');
    expect(cli(sb, ['status'], { cwd: checkout, env: { LETTA_MEMFS_GIT_TOKEN: 'rotated-token-1' } }).stdout).toMatch(/OLD token \(fix: re-run init\)/);
    // The host only knows the old token, so re-init with the new one is refused by verification, changing nothing.
    const refused = init(sb, checkout, ['--remote', remote], { LETTA_MEMFS_GIT_TOKEN: 'rotated-token-1' });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(first.config);
    expect(snapshot(path.join(gitDir, 'letta-memfs'))['http-auth.gitconfig']).toEqual(first.state['http-auth.gitconfig']);
  });

  it('reads the token from a 0600 file and refuses a file others can read', async () => {
    const { sb, checkout, remote, dir } = await setup();
    const tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o644 });
    const before = { config: fs.readFileSync(path.join(checkout, '.git', 'config')), hooks: snapshot(path.join(checkout, '.git', 'hooks')) };
    const bad = init(sb, checkout, ['--remote', remote, '--token-file', tokenFile], { LETTA_MEMFS_GIT_TOKEN: undefined });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim()).toBe(`letta-memfs-hooks: gitTokenFile ${tokenFile} is readable by others (mode 644) (fix: chmod 600 ${tokenFile})`);
    expect(fs.readFileSync(path.join(checkout, '.git', 'config'))).toEqual(before.config);
    expect(snapshot(path.join(checkout, '.git', 'hooks'))).toEqual(before.hooks);
    fs.chmodSync(tokenFile, 0o600);
    const ok = init(sb, checkout, ['--remote', remote, '--token-file', tokenFile], { LETTA_MEMFS_GIT_TOKEN: undefined });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`token from ${tokenFile}`);
    expect(lettaGit(sb, checkout, ['fetch', 'origin']).status).toBe(0);
  });

  it('works from a linked worktree (Letta Code reflection worktrees) through the same include', async () => {
    const { sb, checkout, remote, name } = await setup();
    initOk(sb, checkout, remote);
    expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
    const wt = path.join(checkout, '..', 'memory-worktrees', 'reflection-1');
    gitOk(sb, checkout, ['worktree', 'add', '-q', '-b', 'letta/reflection/1', wt]);
    writeFile(wt, 'system/persona.md', md('p', 'reflected\n'));
    const oid = commitAll(sb, wt, 'reflection');
    const push = lettaGit(sb, wt, ['push', 'origin', 'letta/reflection/1']);
    expect(push.stderr).not.toMatch(/fatal|refused/);
    expect(push.status).toBe(0);
    expect(suite.host.git(name, ['rev-parse', 'refs/heads/letta/reflection/1'])).toBe(oid);
  });

  it('asks for missing values on a terminal, hiding the token', async () => {
    const { sb, checkout, url } = await setup();
    gitOk(sb, checkout, ['remote', 'remove', 'origin']);
    gitOk(sb, checkout, ['config', '--unset', 'letta.agentId']);
    const r = await cliOnTty(
      sb,
      ['init', '--git-user', USER, '--letta-url', LETTA_BASE],
      checkout,
      [
        [/Agent id \(agent-<uuid>\): $/, AGENT],
        [/Use a local bare repo per agent .*\[Y\/n\] $/, 'n'],
        [/External git URL \(https:\/\/host\/owner\/\{agentId\}\.git\): $/, url.replace(AGENT, '{agentId}')],
        [/Token for .* \(input hidden; or export LETTA_MEMFS_GIT_TOKEN\): $/, TOKEN],
      ],
      { LETTA_MEMFS_GIT_TOKEN: undefined },
    );
    expect(r.screen).not.toContain(TOKEN);
    expect(r.status, r.screen).toBe(0);
    expect(r.screen).toContain('token from the prompt');
    expect(lettaGit(sb, checkout, ['fetch', lettaUrl()]).status).toBe(0);
    // --yes never asks: the same missing agent is an error.
    const c2 = await setup();
    gitOk(c2.sb, c2.checkout, ['remote', 'remove', 'origin']);
    gitOk(c2.sb, c2.checkout, ['config', '--unset', 'letta.agentId']);
    const y = await cliOnTty(c2.sb, ['init', '--yes', '--remote', c2.remote], c2.checkout, []);
    expect(y.status).not.toBe(0);
    expect(y.screen).toMatch(/cannot tell which agent/);
  });

  it('moves the redirect when re-run with another remote, and uninstall still restores the original', async () => {
    const { sb, checkout, remote, url } = await setup();
    const gitDir = path.join(checkout, '.git');
    const original = fs.readFileSync(path.join(gitDir, 'config'));
    initOk(sb, checkout, remote);
    const url2 = await suite.host.createRepo(`moved/${Math.random().toString(36).slice(2)}/${AGENT}.git`, { files: { 'system/human.md': md('h', 'moved\n') } });
    initOk(sb, checkout, url2.replace(AGENT, '{agentId}'));
    const config = fs.readFileSync(path.join(gitDir, 'config'), 'utf8');
    expect(config).not.toContain(url);
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(url2);
    const pulled = lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']);
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(fs.readFileSync(path.join(checkout, 'system/human.md'), 'utf8')).toContain('moved');
    const un = cli(sb, ['uninstall'], { cwd: checkout });
    expect(un.status, un.stderr).toBe(0);
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(original);
  });

  it('status exits non-zero when the checkout is not set up or the redirect is gone', async () => {
    const { sb, checkout, remote, url } = await setup();
    const none = cli(sb, ['status'], { cwd: checkout });
    expect(none.status).toBe(1);
    expect(none.stdout.trim()).toBe(`${checkout}: letta-memfs-hooks is not set up here (run ${process.execPath} ${CLI} init)`);
    initOk(sb, checkout, remote);
    expect(cli(sb, ['status'], { cwd: checkout }).status).toBe(0);
    gitOk(sb, checkout, ['config', '--unset-all', `url.${url}.insteadOf`]);
    const broken = cli(sb, ['status', '--json'], { cwd: checkout });
    expect(broken.status).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ installed: true, redirected: false, effectivePushUrl: lettaUrl() });
    // Re-running init repairs it.
    initOk(sb, checkout, remote);
    expect(cli(sb, ['status'], { cwd: checkout }).status).toBe(0);
  });

  it('redirects an SSH remote with insteadOf only (no header, no token needed)', async () => {
    const { sb, checkout } = await setup();
    const r = init(sb, checkout, ['--remote', 'git@git.example.com:agents/{agentId}.git', '--no-verify'], { LETTA_MEMFS_GIT_TOKEN: undefined });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const config = fs.readFileSync(path.join(checkout, '.git', 'config'), 'utf8');
    expect(config).toContain(`[url "git@git.example.com:agents/${AGENT}.git"]\n\tinsteadOf = ${lettaUrl()}`);
    expect(config).not.toMatch(/extraHeader|includeIf/);
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(`git@git.example.com:agents/${AGENT}.git`);
    expect(fs.existsSync(path.join(checkout, '.git', 'letta-memfs', 'http-auth.gitconfig'))).toBe(false);
  });

  it('reads the remote from a config file that names its JSON Schema ($schema, for editors)', async () => {
    const { sb, checkout, url, remote } = await setup();
    const schema = 'https://unpkg.com/letta-memfs-hooks/schema/config.schema.json';
    fs.writeFileSync(path.join(checkout, '.git', 'letta-memfs-hooks.json'), JSON.stringify({ $schema: schema, remote, gitUsername: USER }));
    const r = cli(sb, ['init', '--yes', '--letta-url', LETTA_BASE], { cwd: checkout });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`redirect  ${lettaUrl()} -> ${url}`);
  });
});

describe('bad input: one line, non-zero exit, repo unchanged', () => {
  async function expectRefused(
    prep: (c: { sb: Sandbox; checkout: string; remote: string; dir: string }) => void,
    args: (c: { remote: string; dir: string }) => string[],
    message: RegExp,
    env: Record<string, string | undefined> = {},
  ) {
    const c = await setup();
    prep(c);
    const gitDir = path.join(c.checkout, '.git');
    const before = { config: fs.readFileSync(path.join(gitDir, 'config')), hooks: snapshot(path.join(gitDir, 'hooks')) };
    const r = init(c.sb, c.checkout, args(c), env);
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).toMatch(/\(fix: .+\)$/);
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(before.config);
    expect(snapshot(path.join(gitDir, 'hooks'))).toEqual(before.hooks);
    expect(fs.existsSync(path.join(gitDir, 'letta-memfs'))).toBe(false);
  }

  it('a malformed config file', async () => {
    await expectRefused(
      ({ checkout }) => fs.writeFileSync(path.join(checkout, '.git', 'letta-memfs-hooks.json'), '{ "remote": '),
      ({ remote }) => ['--remote', remote],
      /cannot read config .*\.git\/letta-memfs-hooks\.json/,
    );
  });

  it('a config file with an unknown key', async () => {
    await expectRefused(
      ({ checkout }) => fs.writeFileSync(path.join(checkout, '.git', 'letta-memfs-hooks.json'), '{ "gitToken": "x" }'),
      ({ remote }) => ['--remote', remote],
      /unknown key "gitToken"/,
    );
  });

  it('an agent id that is not in the configured agents', async () => {
    await expectRefused(
      ({ sb }) => {
        fs.mkdirSync(path.join(sb.home, '.config', 'letta-memfs-hooks'), { recursive: true });
        fs.writeFileSync(path.join(sb.home, '.config', 'letta-memfs-hooks', 'config.json'), JSON.stringify({ agents: ['agent-00000000-0000-4000-8000-000000000001'] }));
      },
      ({ remote }) => ['--remote', remote],
      new RegExp(`unknown agent ${AGENT}`),
    );
  });

  it('an invalid --agent (path trick)', async () => {
    await expectRefused(() => undefined, ({ remote }) => ['--remote', remote, '--agent', `${AGENT}/../../etc`], /invalid --agent/);
  });

  it('--agent that disagrees with the origin', async () => {
    await expectRefused(() => undefined, ({ remote }) => ['--remote', remote, '--agent', 'agent-00000000-0000-4000-8000-000000000002'], /--agent says .* but the origin URL says/);
  });

  it('a URL without {agentId} when several agents are configured', async () => {
    await expectRefused(
      ({ sb }) => {
        fs.mkdirSync(path.join(sb.home, '.config', 'letta-memfs-hooks'), { recursive: true });
        fs.writeFileSync(path.join(sb.home, '.config', 'letta-memfs-hooks', 'config.json'), JSON.stringify({ agents: [AGENT, 'agent-00000000-0000-4000-8000-000000000001'] }));
      },
      () => ['--remote', `${suite.host.url}/agents/shared.git`],
      /has no \{agentId\} but 2 agents are configured/,
    );
  });

  it('an external repo that does not exist', async () => {
    await expectRefused(() => undefined, () => ['--remote', `${suite.host.url}/nowhere/{agentId}.git`], /the repo http:\/\/127\.0\.0\.1:\d+\/nowhere\/agent-[0-9a-f-]+\.git does not exist on the host .*init --create-repos github\|gitea\|gitlab/);
  });

  it('a token the host refuses', async () => {
    await expectRefused(() => undefined, ({ remote }) => ['--remote', remote], /refused the token from \$LETTA_MEMFS_GIT_TOKEN/, { LETTA_MEMFS_GIT_TOKEN: 'wrong-token' });
  });

  it('no token at all for an https remote', async () => {
    await expectRefused(() => undefined, ({ remote }) => ['--remote', remote], /no token for http/, { LETTA_MEMFS_GIT_TOKEN: undefined });
  });

  it('a remote URL with credentials in it', async () => {
    await expectRefused(() => undefined, () => ['--remote', `http://u:${TOKEN}@127.0.0.1:1/{agentId}.git`], /carries credentials/);
  });

  it('a checkout that does not exist', async () => {
    const dir = ws();
    const sb = sandbox(dir, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const r = cli(sb, ['init', '--yes', '--repo', path.join(dir, 'nope'), '--remote', `${suite.host.url}/{agentId}.git`], { cwd: dir });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe(`letta-memfs-hooks: ${path.join(dir, 'nope')} does not exist (fix: run init inside the agent memory checkout, or pass --repo <checkout dir>)`);
    const notRepo = cli(sb, ['init', '--yes', '--remote', `${suite.host.url}/{agentId}.git`], { cwd: dir });
    expect(notRepo.status).not.toBe(0);
    expect(notRepo.stderr.trim()).toMatch(/is not a git repository \(fix: /);
  });

  it('a checkout whose agent cannot be told', async () => {
    await expectRefused(
      ({ sb, checkout }) => {
        gitOk(sb, checkout, ['remote', 'remove', 'origin']);
        gitOk(sb, checkout, ['config', '--unset', 'letta.agentId']);
      },
      ({ remote }) => ['--remote', remote],
      /cannot tell which agent/,
    );
  });
});

describe('uninstall', () => {
  it('restores config and hooks byte for byte and deletes the token', async () => {
    const { sb, checkout, remote } = await setup();
    const gitDir = path.join(checkout, '.git');
    const before = { config: fs.readFileSync(path.join(gitDir, 'config')), hooks: snapshot(path.join(gitDir, 'hooks')) };
    initOk(sb, checkout, remote);
    expect(lettaGit(sb, checkout, ['pull', '-q', '--ff-only', 'origin', 'main']).status).toBe(0);
    const r = cli(sb, ['uninstall'], { cwd: checkout });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('config restored byte for byte');
    expect(fs.readFileSync(path.join(gitDir, 'config'))).toEqual(before.config);
    expect(snapshot(path.join(gitDir, 'hooks'))).toEqual(before.hooks);
    expect(fs.existsSync(path.join(gitDir, 'letta-memfs'))).toBe(false);
    expect(gitOk(sb, checkout, ['remote', 'get-url', 'origin'])).toBe(lettaUrl());
    // A second uninstall finds the end state it wants: exit 0, as a script expects (issue 10).
    const again = cli(sb, ['uninstall'], { cwd: checkout });
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toMatch(/^nothing to uninstall: letta-memfs-hooks is not set up in /);
  });

  it('restores key by key when Letta Code edited the config since init', async () => {
    const { sb, checkout, remote } = await setup();
    const gitDir = path.join(checkout, '.git');
    initOk(sb, checkout, remote);
    // What Letta Code does on a sync: its own credential helper key, and unsetting pushurl (absent here).
    gitOk(sb, checkout, ['config', `credential.${LETTA_BASE}.helper`, '!letta-helper']);
    const r = cli(sb, ['uninstall'], { cwd: checkout });
    expect(r.status).toBe(0);
    const config = fs.readFileSync(path.join(gitDir, 'config'), 'utf8');
    expect(config).toContain('letta-helper');
    expect(config).not.toMatch(/insteadOf|extraHeader|includeIf/);
  });
});
