/** `doctor` in a client checkout: is what init set up still in place, and does the external host answer through it. */
import { selfCommand } from '../core/self-command.js';
import type { Check } from '../core/check.js';
import { getConfig, git, type RepoPaths } from '../git/git.js';
import { NO_PROMPT_ENV, sshProblem } from '../git/ssh.js';
import { redactUrl } from '../core/redact.js';
import { readSettings, stateDirOf } from '../core/settings.js';
import { headerScope } from '../core/remote-scope.js';
import { clientStatus } from './status.js';

const REINIT = `re-run ${selfCommand()} init in this checkout`;

export async function clientChecks(repo: RepoPaths, env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const s = await clientStatus(repo, env);
  const where = repo.workTree ?? repo.gitDir;
  if (!s.installed || s.role !== 'client') {
    return [{ name: 'set up', ok: false, detail: `${where} is not set up for the client role`, fix: `run ${selfCommand()} init in ${where}` }];
  }
  const settings = (await readSettings(stateDirOf(repo.commonDir)))!;
  const checks: Check[] = [{ name: 'set up', ok: true, detail: `${s.agentId} -> ${s.remote}` }];
  checks.push({
    name: 'redirect',
    ok: Boolean(s.redirected),
    detail: s.redirected
      ? s.local
        ? 'origin is the external remote itself (local backend: nothing to redirect)'
        : 'origin fetch and push go to the external remote'
      : `origin goes to fetch ${s.effectiveFetchUrl ?? 'none'}, push ${s.effectivePushUrl ?? 'none'}`,
    fix: s.redirected ? undefined : REINIT,
  });
  const opt = repo.workTree ? { cwd: repo.workTree } : { gitDir: repo.gitDir };
  if (/^https?:/i.test(settings.remote)) {
    // The empty host-scoped extraHeader that keeps Letta Code's API key off the external host (plan.ts clientGitConfig).
    const guard = await getConfig(`http.${headerScope(settings.remote)}.extraHeader`, opt);
    checks.push({
      name: 'Letta key guard',
      ok: guard === '',
      detail: guard === '' ? `the Letta API key header is dropped for ${headerScope(settings.remote)}` : 'the empty http.<host>.extraHeader is gone: the Letta API key would reach your host',
      fix: guard === '' ? undefined : REINIT,
    });
    const t = s.auth?.token;
    checks.push({
      name: 'token',
      ok: Boolean(s.auth?.present) && t !== 'stale' && t !== 'none',
      detail: !s.auth?.present ? 'no stored token' : t === 'current' ? 'stored token is the current one' : t === 'unknown' ? `stored (cannot compare: ${settings.config.gitTokenEnv} not set here)` : `stored token is ${t === 'stale' ? 'an old one' : 'missing'}`,
      fix: s.auth?.present && t !== 'stale' && t !== 'none' ? undefined : `export ${settings.config.gitTokenEnv}=<token> and ${REINIT}`,
    });
  }
  const bad = s.hooks.filter((h) => h.state !== 'installed');
  checks.push({
    name: 'hooks',
    ok: bad.length === 0,
    detail: bad.length ? bad.map((h) => `${h.name} ${h.state}`).join(', ') : `${s.hooks.map((h) => h.name).join(', ')} in ${s.hooksDir}`,
    fix: bad.length ? REINIT : undefined,
  });
  // Through origin, as Letta Code reaches it: the redirect, the key guard and our header all apply.
  const r = await git(['-c', 'credential.helper=', '-c', 'core.askPass=', 'ls-remote', '--heads', 'origin'], {
    ...opt,
    env: NO_PROMPT_ENV,
    allowFailure: true,
    timeoutMs: 30_000,
  });
  const ssh = r.exitCode === 0 ? undefined : sshProblem(r.stderr, settings.remote);
  const last = ssh?.reason ?? r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit ${r.exitCode}`;
  checks.push({
    name: 'remote reachable',
    ok: r.exitCode === 0,
    detail: r.exitCode === 0 ? `${redactUrl(settings.remote)} answers through origin` : `${redactUrl(settings.remote)}: ${last}`,
    fix: r.exitCode === 0 ? undefined : ssh?.fix ?? 'check the network, that the repo exists on your host and that the token can read it; then re-run init',
  });
  return checks;
}
