// ssh remotes without a host: which spellings are refused before they reach git config or ssh's argv, what ssh's
// refusals are turned into, and that no token or prompt is ever offered to an ssh remote. The same code against a
// real sshd: client.test.ts and server.test.ts beside this file.
import { describe, expect, it } from 'vitest';
import { mergeLayers } from '../../src/core/config/schema.js';
import { remoteKind, validateRemoteTemplate } from '../../src/core/template.js';
import { externalGitEnv } from '../../src/git/remote-auth.js';
import { knownHostsName, NO_PROMPT_ENV, sshAddress, sshProblem } from '../../src/git/ssh.js';
import { errorLine } from '../helpers/repo.js';

const REFUSED: [string, string, RegExp][] = [
  ['a host that is an ssh option', 'ssh://-oProxyCommand=touch%20x/{agentId}.git', /is not a git URL we accept/],
  ['a bracketed host that is an option', 'ssh://[-oProxyCommand=x]/{agentId}.git', /is not a git URL we accept/],
  ['a user that is an ssh option', 'ssh://-oProxyCommand=x@h.example/{agentId}.git', /is not a git URL we accept/],
  ['a host that is an option after a user', 'ssh://git@-oProxyCommand=x/{agentId}.git', /is not a git URL we accept/],
  ['an scp-like user that is an option', '-oProxyCommand=x@h.example:{agentId}.git', /is not a git URL we accept/],
  ['an scp-like host that is an option', 'git@-oProxyCommand=x:{agentId}.git', /is not a git URL we accept/],
  ['an scp-like path that is an option', 'git@h.example:-u{agentId}.git', /is not a git URL we accept/],
  ['an scp-like remote without a user', 'h.example:{agentId}.git', /is not a git URL we accept/],
  ['the ext:: transport', 'ext::ssh -oProxyCommand=x h.example %S {agentId}', /is not a git URL we accept/],
  ['the ext:: transport with a plain command', 'ext::sh -c touch% /tmp/pwned', /is not a git URL we accept/],
  ['the fd:: transport', 'fd::3/{agentId}', /is not a git URL we accept/],
  ['git+ssh://', 'git+ssh://git@h.example/{agentId}.git', /is not a git URL we accept/],
  ['ssh+git://', 'ssh+git://git@h.example/{agentId}.git', /is not a git URL we accept/],
  ['a password in ssh://', 'ssh://git:hunter22@h.example/{agentId}.git', /carries credentials/],
  ['a password in the scp-like form', 'git:hunter22@h.example:{agentId}.git', /carries credentials/],
  ['an empty user', 'ssh://@h.example/{agentId}.git', /is not a git URL we accept/],
  ['two @', 'ssh://a@b@h.example/{agentId}.git', /is not a git URL we accept/],
  ['a quote in the user', "ssh://gi't@h.example/{agentId}.git", /is not a git URL we accept/],
  ['a shell substitution in the user', 'ssh://$(id)@h.example/{agentId}.git', /is not a git URL we accept/],
  ['an underscore host', 'ssh://git@my_host/{agentId}.git', /is not a git URL we accept/],
  ['a percent-encoded host', 'ssh://git@h%2eexample/{agentId}.git', /is not a git URL we accept/],
  ['an IPv6 literal (ssh)', 'ssh://git@[::1]/{agentId}.git', /is not a git URL we accept/],
  ['a host with a trailing dot (ssh)', 'ssh://git@h.example./{agentId}.git', /is not a git URL we accept/],
  ['two ports', 'ssh://git@h.example:22:23/{agentId}.git', /is not a git URL we accept/],
  ['port 0', 'ssh://git@h.example:0/{agentId}.git', /has port 0, which cannot exist/],
  ['port 70000', 'ssh://git@h.example:70000/{agentId}.git', /has port 70000, which cannot exist/],
  ['a semicolon in the path', 'ssh://git@h.example/a;touch x/{agentId}.git', /is not a git URL we accept/],
  ['a command substitution in the scp-like path', 'git@h.example:$(touch x)/{agentId}.git', /is not a git URL we accept/],
  ['a backtick in the path', 'ssh://git@h.example/`id`/{agentId}.git', /is not a git URL we accept/],
  ['a newline in the path', 'ssh://git@h.example/a\n[core]\n\tsshCommand = touch x\n/{agentId}.git', /contains a newline/],
  ['a space in the path', 'ssh://git@h.example/a b/{agentId}.git', /is not a git URL we accept/],
];

describe('ssh remote templates: refused (exit 2, the value not repeated)', () => {
  it.each(REFUSED)('%s', (_name, template, pattern) => {
    const line = errorLine(() => validateRemoteTemplate(template, '--remote'));
    expect(line).toMatch(pattern);
    expect(line).toMatch(/\(fix: .+\)$/);
    expect(line).not.toContain('hunter22');
    expect(line).not.toContain('ProxyCommand');
    try {
      validateRemoteTemplate(template, '--remote');
    } catch (e) {
      expect((e as { exitCode?: number }).exitCode).toBe(2);
    }
  });
});

describe('ssh remote templates: accepted', () => {
  it.each([
    'ssh://git@git.example.com/agents/{agentId}.git',
    'ssh://git@git.example.com:2222/agents/{agentId}.git',
    'ssh://git.example.com/agents/{agentId}.git',
    'ssh://deploy.bot-1@10.0.0.5:22/srv/git/{agentId}.git',
    'git@git.example.com:agents/{agentId}.git',
    'git@10.0.0.5:/srv/git/{agentId}.git',
    'ssh://git@git.example.com/~git/{agentId}.git',
  ])('%s', (template) => {
    expect(validateRemoteTemplate(template, '--remote')).toBe(template);
    expect(remoteKind(template)).toBe('ssh');
  });
});

describe('sshAddress, knownHostsName', () => {
  it.each([
    ['ssh://git@h.example/a.git', { user: 'git', host: 'h.example' }, 'h.example'],
    ['ssh://h.example:2222/a.git', { host: 'h.example', port: 2222 }, '[h.example]:2222'],
    ['ssh://git@127.0.0.1:22/a.git', { user: 'git', host: '127.0.0.1', port: 22 }, '127.0.0.1'],
    ['git@h.example:a/b.git', { user: 'git', host: 'h.example' }, 'h.example'],
  ] as const)('%s', (url, address, name) => {
    expect(sshAddress(url)).toEqual({ user: undefined, port: undefined, ...address });
    expect(knownHostsName(sshAddress(url)!)).toBe(name);
  });

  it('is undefined for other remotes', () => {
    expect(sshAddress('https://h.example/a.git')).toBeUndefined();
    expect(sshAddress('/srv/a.git')).toBeUndefined();
  });
});

// stderr as git 2.39 and OpenSSH 9.2 print it (the real ones: client.test.ts, server.test.ts).
const UNKNOWN = 'Host key verification failed.\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';
const CHANGED = '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n' + UNKNOWN;
const DENIED = 'git@127.0.0.1: Permission denied (publickey).\r\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';

describe('sshProblem: one line with the fix', () => {
  const url = 'ssh://git@127.0.0.1:2299/srv/a.git';

  it('an unknown host key: how to add it, never how to skip the check', () => {
    const p = sshProblem(UNKNOWN, url)!;
    expect(p.reason).toBe('ssh does not know the host key of [127.0.0.1]:2299, and letta-memfs-hooks never accepts an unknown one');
    expect(p.fix).toContain('ssh-keyscan -p 2299 127.0.0.1 >> ~/.ssh/known_hosts');
    expect(p.fix).toContain('ssh -p 2299 git@127.0.0.1 once');
    expect(`${p.reason} ${p.fix}`).not.toMatch(/StrictHostKeyChecking|\n/);
  });

  it('a changed host key is not treated as a new one', () => {
    const p = sshProblem(CHANGED, 'git@h.example:a.git')!;
    expect(p.reason).toMatch(/host key of h\.example is not the one in known_hosts/);
    expect(p.fix).toContain("ssh-keygen -R 'h.example'");
  });

  it('a refused key', () => {
    const p = sshProblem(DENIED, url)!;
    expect(p.reason).toBe('[127.0.0.1]:2299 refused every ssh key offered for git');
    expect(p.fix).toMatch(/ssh-agent/);
  });

  it('a refused key whatever methods the host offers', () => {
    expect(sshProblem('git@h.example: Permission denied (publickey,password).\r\n', url)?.reason).toMatch(/refused every ssh key/);
    expect(sshProblem('git@h.example: Permission denied (keyboard-interactive).\r\n', url)?.reason).toMatch(/refused every ssh key/);
    expect(sshProblem("fatal: cannot open '/srv/a.git/FETCH_HEAD': Permission denied\n", url)).toBeUndefined();
  });

  it('leaves other failures, and other remotes, to the callers', () => {
    expect(sshProblem("fatal: '/srv/a.git' does not appear to be a git repository\n", url)).toBeUndefined();
    expect(sshProblem('ssh: connect to host 127.0.0.1 port 2299: Connection refused\n', url)).toBeUndefined();
    expect(sshProblem(UNKNOWN, 'https://h.example/a.git')).toBeUndefined();
  });
});

describe('the environment of our git calls', () => {
  it('never prompts: no terminal, no askpass for git, every ssh question answered by an askpass that says nothing', () => {
    expect(NO_PROMPT_ENV).toEqual({ GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '', SSH_ASKPASS: 'false', SSH_ASKPASS_REQUIRE: 'force' });
  });

  it('offers the token to an https remote only, never to an ssh one', () => {
    const cfg = mergeLayers([{ remote: 'ssh://git@h.example/{agentId}.git' }]);
    const env = { LETTA_MEMFS_GIT_TOKEN: 'tok-5b1e9d' };
    const ssh = externalGitEnv(cfg, 'ssh://git@h.example/a.git', env);
    expect(JSON.stringify(ssh)).not.toContain('tok-5b1e9d');
    expect(JSON.stringify(ssh)).not.toContain('credential');
    expect(ssh).toMatchObject(NO_PROMPT_ENV);
    expect(JSON.stringify(externalGitEnv(cfg, 'https://h.example/a.git', env))).toContain('tok-5b1e9d');
  });
});
