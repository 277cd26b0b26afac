import { errorLine as err } from '../helpers/repo.js';
import { describe, expect, it } from 'vitest';
import { authHeader, renderAuthFile } from '../../src/client/credentials.js';
import { authIncludeKeys, clientGitConfig, lettaUrlsFor, planClient, resolveAgent } from '../../src/client/plan.js';
import { planPoke, pokeRequest } from '../../src/client/poke.js';
import { formatClientStatus, type ClientStatus } from '../../src/client/status.js';
import { envLayer } from '../../src/core/config/load.js';
import { mergeLayers, validateLayer } from '../../src/core/config/schema.js';
import { verifyRequest } from '../../src/server/watch/webhook.js';
import { selfCommand } from '../../src/core/self-command.js';

const ID = 'agent-123e4567-e89b-42d3-a456-426614174000';
const ID2 = 'agent-223e4567-e89b-42d3-a456-426614174001';
const LETTA = `http://letta:8283/v1/git/${ID}/state.git`;

describe('which agent', () => {
  it('takes --agent, the origin URL or letta.agentId, in agreement', () => {
    expect(resolveAgent({ originUrl: LETTA }, [])).toEqual({ agentId: ID, source: 'the origin URL' });
    expect(resolveAgent({ gitConfig: ID }, [])).toEqual({ agentId: ID, source: 'git config letta.agentId' });
    expect(resolveAgent({ flag: ID, originUrl: LETTA, gitConfig: ID }, [ID])?.agentId).toBe(ID);
    expect(resolveAgent({ originUrl: 'https://git.example.com/x.git' }, [])).toBeUndefined();
  });

  it('refuses disagreement, invalid ids and ids outside the configured agents', () => {
    expect(err(() => resolveAgent({ flag: ID2, originUrl: LETTA }, []))).toMatch(/--agent says .* but the origin URL says/);
    expect(err(() => resolveAgent({ flag: 'agent-1/../..' }, []))).toMatch(/invalid --agent/);
    expect(err(() => resolveAgent({ gitConfig: 'bogus' }, []))).toMatch(/letta.agentId is not an agent-<uuid>/);
    expect(err(() => resolveAgent({ originUrl: 'http://l/v1/git/agent-x/state.git' }, []))).toMatch(/names no valid agent id/);
    expect(err(() => resolveAgent({ originUrl: LETTA }, [ID2]))).toMatch(new RegExp(`unknown agent ${ID} .*\\(fix: add it to "agents"`));
  });
});

describe('what to redirect', () => {
  it('the origin and the URLs Letta Code would repair it to, once each', () => {
    expect(lettaUrlsFor(ID, LETTA, ['http://letta:8283/', 'http://memfs:1', undefined])).toEqual([LETTA, `http://memfs:1/v1/git/${ID}/state.git`]);
    // Another agent's origin is not redirected to this agent's repo.
    expect(lettaUrlsFor(ID, `http://letta:8283/v1/git/${ID2}/state.git`, ['http://letta:8283'])).toEqual([LETTA]);
  });

  it('plans insteadOf, the header reset and the auth include for https; insteadOf only for ssh', () => {
    const cfg = mergeLayers([{ remote: 'https://git.example.com/a/{agentId}.git' }]);
    const plan = planClient(ID, cfg, [LETTA]);
    const ext = `https://git.example.com/a/${ID}.git`;
    expect(clientGitConfig(plan, { commonDir: '/r/.git/', file: '/r/.git/letta-memfs/http-auth.gitconfig' })).toEqual({
      [`url.${ext}.insteadOf`]: [LETTA],
      ['http.https://git.example.com.extraHeader']: [''],
      'includeIf.gitdir:/r/.git.path': ['/r/.git/letta-memfs/http-auth.gitconfig'],
      'includeIf.gitdir:/r/.git/worktrees/.path': ['/r/.git/letta-memfs/http-auth.gitconfig'],
    });
    expect(authIncludeKeys(undefined)).toEqual([]);
    const ssh = planClient(ID, mergeLayers([{ remote: 'git@git.example.com:a/{agentId}.git' }]), [LETTA]);
    expect(clientGitConfig(ssh, { commonDir: '/r/.git', file: 'f' })).toEqual({ [`url.git@git.example.com:a/${ID}.git.insteadOf`]: [LETTA] });
  });

  it('refuses a missing remote and a remote that is itself a Letta URL', () => {
    expect(err(() => planClient(ID, mergeLayers([]), [LETTA]))).toMatch(/no external remote configured \(fix: pass --remote/);
    expect(err(() => planClient(ID, mergeLayers([{ remote: 'http://letta:8283/v1/git/{agentId}/state.git' }]), [LETTA]))).toMatch(/is a Letta \/v1\/git\/ URL/);
  });
});

describe('auth include file', () => {
  it('resets the header for the external URL, then sets ours; quotes the subsection', () => {
    const h = authHeader('bot', 'tok');
    expect(h).toBe(`Authorization: Basic ${Buffer.from('bot:tok').toString('base64')}`);
    const f = renderAuthFile('https://h/a "b".git', h, '$T');
    expect(f).toContain('[http "https://h/a \\"b\\".git"]\n\textraHeader =\n\textraHeader = Authorization: Basic ');
    expect(f).not.toContain('tok\n');
    expect(() => renderAuthFile('https://h/x.git', 'Authorization: Basic x\n[core]', '$T')).toThrow(/newline/);
  });
});

describe('status text', () => {
  it('says what to do when something is off', () => {
    const base: ClientStatus = { repo: '/r', installed: true, role: 'client', agentId: ID, remote: 'https://h/x.git', redirected: false, hooks: [{ name: 'pre-push', state: 'replaced', chained: true }], hooksDir: '/r/.git/hooks', auth: { file: '/r/.git/letta-memfs/http-auth.gitconfig', present: true, mode: '600', token: 'stale' } };
    const text = formatClientStatus(base);
    expect(text).toMatch(/origin\s+NOT redirected: .*\(fix: re-run init\)/);
    expect(text).toMatch(/pre-push replaced \(\+ chained original\)/);
    expect(text).toMatch(/OLD token \(fix: re-run init\)/);
    expect(formatClientStatus({ repo: '/r', installed: false, hooks: [] })).toBe(`/r: letta-memfs-hooks is not set up here (run ${selfCommand()} init)`);
  });
});

describe('poke after push', () => {
  const base = { agentId: ID, pokeUrl: 'http://watch:8284/', secret: 's3', remote: 'origin', commonDir: '/r/.git' };
  const A = 'a'.repeat(40);

  it('pokes only for main pushed to a named remote, with a URL and a secret', () => {
    expect(planPoke({ ...base, updates: [{ remoteRef: 'refs/heads/main', localOid: A }] })).toEqual({
      agentId: ID,
      pokeUrl: 'http://watch:8284/',
      trackingRef: 'refs/remotes/origin/main',
      oid: A,
      commonDir: '/r/.git',
    });
    expect(planPoke({ ...base, updates: [{ remoteRef: 'refs/heads/letta/reflection/1', localOid: A }] })).toBeUndefined();
    expect(planPoke({ ...base, updates: [{ remoteRef: 'refs/heads/main', localOid: '0'.repeat(40) }] })).toBeUndefined();
    expect(planPoke({ ...base, remote: 'https://h/x.git', updates: [{ remoteRef: 'refs/heads/main', localOid: A }] })).toBeUndefined();
    expect(planPoke({ ...base, secret: undefined, updates: [{ remoteRef: 'refs/heads/main', localOid: A }] })).toBeUndefined();
    expect(planPoke({ ...base, pokeUrl: undefined, updates: [{ remoteRef: 'refs/heads/main', localOid: A }] })).toBeUndefined();
  });

  it('takes pokeUrl from config and env, never with credentials', () => {
    expect(validateLayer({ pokeUrl: 'http://watch:8284' }, 'f').pokeUrl).toBe('http://watch:8284');
    expect(err(() => validateLayer({ pokeUrl: 'http://u:secret@watch:8284' }, 'f'))).toMatch(/pokeUrl carries credentials/);
    expect(envLayer({ LETTA_MEMFS_POKE_URL: 'http://w:1' }).pokeUrl).toBe('http://w:1');
  });

  it('signs the request the way watch verifies it', () => {
    const r = pokeRequest('http://watch:8284/', ID, 's3', 1_700_000_000);
    expect(r.url).toBe(`http://watch:8284/poke/${ID}`);
    expect(verifyRequest('POST', `/poke/${ID}`, r.headers, Buffer.alloc(0), 's3', 1_700_000_010)).toMatchObject({ ok: true, agentId: ID });
    expect(verifyRequest('POST', `/poke/${ID}`, r.headers, Buffer.alloc(0), 'other', 1_700_000_010)).toMatchObject({ ok: false });
  });
});
