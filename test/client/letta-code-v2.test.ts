/**
 * Issue 16, acceptance 1: a real Letta Code 0.34.12 local agent (`agents create --backend local`, from the PyPI
 * wheel) in its default v2 root layout, with memory folders system/ and reference/, after `init` against a file://
 * host. Every commit Letta Code's own pre-commit accepts reaches the host by itself (reference-transaction, background
 * push, our pre-push with Letta Code's rules); a tree its hooks refuse (committed past them with --no-verify) is
 * refused by our pre-push too, and push.log names the file, the rule and the fix, not the token.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalAgent, type LocalAgent, lettaCodePypi } from '../fixtures/letta-code-pypi.js';
import { cli, git, gitOk, type Sandbox, sandbox, writeFile } from './env.js';

let sb: Sandbox;
let agent: LocalAgent;
let host: string;

const hostMain = () => spawnSync('git', ['--git-dir', host, 'rev-parse', '-q', '--verify', 'refs/heads/main'], { encoding: 'utf8' }).stdout.trim();
const pushLog = () => fs.readFileSync(path.join(agent.dir, '.git', 'letta-memfs', 'push.log'), 'utf8');

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A commit as the agent makes one (explicit paths, Letta Code's pre-commit runs). */
function agentCommit(files: Record<string, string>, message: string, extra: string[] = []) {
  for (const [p, c] of Object.entries(files)) writeFile(agent.dir, p, c);
  gitOk(sb, agent.dir, ['add', '--', ...Object.keys(files)]);
  return git(sb, agent.dir, ['commit', ...extra, '-m', message, '--', ...Object.keys(files)]);
}

describe('Letta Code 0.34.12 local agent, default v2 layout, after init', () => {
  beforeAll(() => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-lc-v2-'));
    sb = sandbox(root);
    agent = createLocalAgent(lettaCodePypi('0.34.12'), sb.home);
    host = path.join(root, 'host.git');
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', host]);
    const r = cli(sb, ['init', '--yes', '--remote', `file://${host}`], { cwd: agent.dir });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(agent.dir, '.git', 'letta-memory-layout-policy'), 'utf8').trim()).toBe('root-marker');
  }, 900_000);

  it('every commit its own hooks accept reaches the host by itself: system/ and reference/ with their indexes', async () => {
    const commits = [
      { 'reference/MEMORY.md': '# Reference\n- [tools](tools.md)\n', 'reference/tools.md': '---\nname: tools\ndescription: Tools I use\n---\nripgrep, git\n' },
      { 'system/MEMORY.md': '# System\n', 'system/style.md': '---\nname: style\ndescription: How I write\n---\nShort sentences.\n' },
      { 'persona.md': '---\nname: Persona\ndescription: Who I am\n---\nA careful helper.\n', 'MEMORY.md': '# Memory\n- [reference](reference/MEMORY.md)\n- [system](system/MEMORY.md)\n' },
    ];
    for (const files of commits) {
      const c = agentCommit(files, 'memory: update');
      expect(c.status, `Letta Code's pre-commit refused: ${c.stdout}${c.stderr}`).toBe(0);
      const oid = gitOk(sb, agent.dir, ['rev-parse', 'HEAD']);
      await until(`host main at ${oid}`, () => hostMain() === oid);
    }
    expect(pushLog()).not.toMatch(/refused|failed/);
  }, 240_000);

  it('a tree its hooks refuse is refused by our pre-push; push.log names the file, rule and fix, not the token', async () => {
    const before = hostMain();
    const files = { 'reference/bad.md': '---\ndescription: no name line\n---\nx\n' };
    const theirs = agentCommit(files, 'memory: bad');
    expect(theirs.status).not.toBe(0);
    expect(theirs.stdout + theirs.stderr).toMatch(/reference\/bad\.md: missing required field 'name'/);
    // Past Letta Code's hook (as a merge or a --no-verify commit would be): ours still keeps it off the host.
    expect(git(sb, agent.dir, ['commit', '--no-verify', '-m', 'memory: bad', '--', 'reference/bad.md']).status).toBe(0);
    await until('push.log records the refusal', () => /refused/.test(pushLog()));
    const log = pushLog();
    expect(log).toMatch(/reference\/bad\.md: has no name in its frontmatter; Letta Code needs name and description \(fix: add a line "name: \.\.\." inside the --- block of reference\/bad\.md\)/);
    expect(log).not.toMatch(/token/);
    expect(hostMain()).toBe(before);
    // A direct push says the same, whose rules they are first.
    const p = git(sb, agent.dir, ['push', 'origin', 'main']);
    expect(p.status).not.toBe(0);
    expect(p.stderr).toContain("push refused by Letta Code's rules for its root-marker layout: 1 problem");
  }, 240_000);
});
