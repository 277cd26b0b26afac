import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ReleaseContext, RELEASES } from '../fixtures/letta-code-releases.js';
import { AGENT, cli, clientSuite, commitAll, gitOk, initCheckout, LETTA_BASE, lettaUrl, makeCheckout, md, sandbox, writeFile } from './env.js';

// 0.22.4, 0.25.9 and 0.30.28 cannot run their own pull standalone, so their exact git calls (pull, push, origin
// repair, hook rewrite; test/fixtures/letta-code-releases.ts) are replayed against an initialised checkout.
const USER = 'memfs-bot';
const TOKEN = 'replay-token-19ad';
const LETTA_API_KEY = 'sk-let-REPLAY-KEY-5151';
const suite = clientSuite(USER, TOKEN);

describe.each(RELEASES)('Letta Code $version replayed', (release) => {
  it('pulls and pushes through the redirect, never sends its key to the host, and leaves our hooks in place', async () => {
    const root = suite.workspace('lmh-replay-');
    const sb = sandbox(root, { LETTA_MEMFS_GIT_TOKEN: TOKEN });
    const name = `replay/${release.version}/${Math.random().toString(36).slice(2)}/${AGENT}.git`;
    const url = await suite.host.createRepo(name, { files: { 'system/human.md': md('About the human', 'Name: Ada\n') } });
    const dir = makeCheckout(sb, path.join(sb.home, '.letta', 'agents', AGENT, 'memory'));
    const init = initCheckout(sb, dir, USER, url.replace(AGENT, '{agentId}'));
    expect(init.status, init.stderr).toBe(0);
    suite.host.clearRequests();
    const c: ReleaseContext = { dir, agentId: AGENT, token: LETTA_API_KEY, base: LETTA_BASE, env: sb.env };

    const pulled = release.pull(c);
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(gitOk(sb, dir, ['rev-parse', 'HEAD'])).toBe(suite.host.git(name, ['rev-parse', 'refs/heads/main']));

    // A local commit while someone else pushed: the release's push is rejected, then its own retry path (or the
    // next pull) brings both together on the host.
    const other = path.join(root, 'other');
    const auth = `http.extraHeader=Authorization: Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`;
    gitOk(sb, root, ['-c', auth, 'clone', '-q', url, other]);
    writeFile(other, 'reference/notes.md', md('Notes', 'theirs\n'));
    const theirs = commitAll(sb, other, 'theirs');
    gitOk(sb, other, ['-c', auth, 'push', '-q', 'origin', 'main']);
    writeFile(dir, 'system/persona.md', md('Who I am', 'Curious.\n'));
    const mine = commitAll(sb, dir, 'mine');
    let pushed = release.push(c);
    if (pushed.status !== 0) {
      // 0.25.9's pushMemory does not retry; its next pull rebases, and the next push lands.
      expect(release.pull(c).status).toBe(0);
      pushed = release.push(c);
    }
    expect(pushed.status, pushed.stderr).toBe(0);
    const hostMain = suite.host.git(name, ['rev-parse', 'refs/heads/main']);
    expect(gitOk(sb, dir, ['rev-parse', 'HEAD'])).toBe(hostMain);
    expect(suite.host.git(name, ['merge-base', '--is-ancestor', theirs, hostMain])).toBe('');
    expect(suite.host.git(name, ['log', '--format=%s', hostMain])).toContain('mine');
    expect(mine).toMatch(/^[0-9a-f]{40}$/);

    // The key guard: the host saw our token on every request and never the Letta key.
    const b64 = Buffer.from(`letta:${LETTA_API_KEY}`).toString('base64');
    const reqs = suite.host.requests;
    expect(reqs.some((q) => q.path.endsWith('/git-receive-pack') && q.status === 200)).toBe(true);
    for (const q of reqs) {
      expect(JSON.stringify(q.rawHeaders)).not.toContain(b64);
      expect(JSON.stringify(q.rawHeaders)).not.toContain(LETTA_API_KEY);
    }

    // Origin repair: a stale Letta origin is repaired to the release's base, which init redirected; a leftover
    // pushurl is cleared (0.25+). Either way git still reaches the host.
    gitOk(sb, dir, ['remote', 'set-url', 'origin', `http://127.0.0.1:9/v1/git/${AGENT}`]);
    gitOk(sb, dir, ['config', 'remote.origin.pushurl', 'http://127.0.0.1:7/proxy']);
    release.repairOrigin(c);
    if (release.version !== '0.22.4') {
      expect(gitOk(sb, dir, ['config', 'remote.origin.url'])).toBe(lettaUrl());
      expect(gitOk(sb, dir, ['remote', 'get-url', '--push', 'origin'])).toBe(url);
    } else {
      // 0.22.4 repairs only `<base>/v1/git/<id>/state.git` URLs: put origin back as it found it.
      gitOk(sb, dir, ['remote', 'set-url', 'origin', lettaUrl()]);
      gitOk(sb, dir, ['config', '--unset', 'remote.origin.pushurl']);
    }
    if (release.version === '0.30.28') {
      gitOk(sb, dir, ['remote', 'remove', 'origin']);
      gitOk(sb, dir, ['config', 'branch.main.remote', 'origin']);
      gitOk(sb, dir, ['config', 'branch.main.merge', 'refs/heads/main']);
      release.repairOrigin(c);
      expect(gitOk(sb, dir, ['config', 'remote.origin.url'])).toBe(lettaUrl());
    }
    expect(gitOk(sb, dir, ['remote', 'get-url', 'origin'])).toBe(url);
    expect(release.pull(c).status).toBe(0);

    // Its hook rewrite touched only pre-commit/post-commit; ours are intact and the redirect holds.
    const st = cli(sb, ['status', '--json'], { cwd: dir });
    expect(st.status, st.stdout).toBe(0);
    const s = JSON.parse(st.stdout);
    expect(s.redirected).toBe(true);
    expect(s.hooks.map((h: { name: string; state: string }) => `${h.name}:${h.state}`)).toEqual(['pre-push:installed', 'post-merge:installed', 'post-checkout:installed']);
    expect(fs.readFileSync(path.join(dir, '.git', 'hooks', 'pre-commit'), 'utf8')).toContain("Letta Code's pre-commit");
  }, 120_000);
});
