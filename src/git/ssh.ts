/**
 * ssh remotes. We never choose keys or host keys for ssh: it reads them where it always does (the known_hosts, keys
 * and ~/.ssh/config of the user running git, or the command in GIT_SSH_COMMAND / core.sshCommand), so Letta Code's
 * own pulls, a git by hand and our processes all trust the same host keys. What we add is that none of our git calls
 * can stop at a question: on a terminal ssh would ask "continue connecting (yes/no)?" for an unknown host key, or
 * for a key's passphrase, and wait (a `watch` in the foreground, `init` on a terminal). With SSH_ASKPASS_REQUIRE=force
 * (OpenSSH 8.4+) every such question goes to SSH_ASKPASS instead of the terminal, and `false` answers none: an
 * unknown host key fails as "Host key verification failed." and is never accepted (no StrictHostKeyChecking=no,
 * no accept-new). GIT_ASKPASS is cleared so git itself does not run that askpass for an https prompt either.
 */
import { remoteKind } from '../core/template.js';

/** Environment for every git call of ours that talks to a remote: nothing waits for a person's answer. */
export const NO_PROMPT_ENV: Readonly<Record<string, string>> = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '',
  SSH_ASKPASS: 'false',
  SSH_ASKPASS_REQUIRE: 'force',
};

export interface SshAddress {
  user?: string;
  host: string;
  port?: number;
}

/** Pure: user, host and port of an ssh remote (`ssh://[user@]host[:port]/path` or scp-like `user@host:path`). */
export function sshAddress(url: string): SshAddress | undefined {
  if (remoteKind(url) !== 'ssh') return undefined;
  const m = /^ssh:\/\/(?:([^@/]+)@)?([^:/]+)(?::(\d+))?\//i.exec(url) ?? /^(?:([^@/:]+)@)?([^:/]+):()/.exec(url);
  if (!m) return undefined;
  return { user: m[1] || undefined, host: m[2], port: m[3] ? Number(m[3]) : undefined };
}

/** How known_hosts names the host: `host`, or `[host]:port` off port 22. */
export function knownHostsName(a: SshAddress): string {
  return a.port && a.port !== 22 ? `[${a.host}]:${a.port}` : a.host;
}

export interface SshProblem {
  reason: string;
  fix: string;
}

/**
 * Pure: what an ssh failure in git's stderr means, with the fix, or undefined when it is not one of ssh's own
 * (a missing repo, the network: the callers' usual wording applies). One line each.
 */
export function sshProblem(stderr: string, url: string): SshProblem | undefined {
  const a = sshAddress(url);
  if (!a) return undefined;
  const name = knownHostsName(a);
  const port = a.port && a.port !== 22 ? `-p ${a.port} ` : '';
  const login = `ssh ${port}${a.user ? `${a.user}@` : ''}${a.host}`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return {
      reason: `the ssh host key of ${name} is not the one in known_hosts (changed, or someone is in between)`,
      fix: `ask the host's admin whether it was re-keyed; only then ssh-keygen -R '${name}' and add the new key after checking its fingerprint`,
    };
  }
  if (/Host key verification failed|No \S+ host key is known for/i.test(stderr)) {
    return {
      reason: `ssh does not know the host key of ${name}, and letta-memfs-hooks never accepts an unknown one`,
      fix: `check the fingerprint with the host's admin, then add the key to the known_hosts of the user running this: ssh-keyscan ${port}${a.host} >> ~/.ssh/known_hosts (or run ${login} once and answer yes); GIT_SSH_COMMAND='ssh -o UserKnownHostsFile=<file>' names another file`,
    };
  }
  // ssh lists the methods the server offered: "Permission denied (publickey,password)."
  if (/Permission denied \([a-z-]+(?:,[a-z-]+)*\)/i.test(stderr)) {
    return {
      reason: `${name} refused every ssh key offered${a.user ? ` for ${a.user}` : ''}`,
      fix: `add this user's public key to that account on the host, or name the key in ~/.ssh/config (IdentityFile) or GIT_SSH_COMMAND='ssh -i <key>'; a key with a passphrase must be loaded in ssh-agent (nothing here types it)`,
    };
  }
  return undefined;
}
