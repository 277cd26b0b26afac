import { errorLine } from '../helpers/repo.js';
import { describe, expect, it } from 'vitest';
import { agentIdFromLettaUrl, validateAgentId } from '../../src/core/agent-id.js';
import { mergeLayers, validateLayer } from '../../src/core/config/schema.js';
import { formatError, UserError } from '../../src/core/errors.js';
import { redact, redactUrl } from '../../src/core/redact.js';
import { renderRemote, validateRemoteTemplate } from '../../src/core/template.js';

const ID = 'agent-123e4567-e89b-42d3-a456-426614174000';

describe('agent ids', () => {
  it('accepts agent-<uuid> and refuses path and URL tricks', () => {
    expect(validateAgentId(ID)).toBe(ID);
    for (const bad of ['../agent-x', `${ID}/../../etc`, `${ID}?x=1`, 'agent-123', `${ID.toUpperCase()}`, '', `${ID}\n`]) {
      expect(() => validateAgentId(bad)).toThrow(/expected agent-<uuid>/);
    }
  });

  it('reads the id from a Letta memfs origin URL only', () => {
    expect(agentIdFromLettaUrl(`http://localhost:8283/v1/git/${ID}/state.git`)).toBe(ID);
    expect(agentIdFromLettaUrl('http://localhost:8283/v1/git/agent-x/state.git')).toBeUndefined();
    expect(agentIdFromLettaUrl(`https://git.example.com/agents/${ID}.git`)).toBeUndefined();
  });
});

describe('remote templates', () => {
  it('renders {agentId} and refuses URLs with credentials', () => {
    expect(renderRemote('https://h/agents/{agentId}.git', ID)).toBe(`https://h/agents/${ID}.git`);
    expect(() => validateRemoteTemplate('https://user:tok3n@h/x.git', 'flag')).toThrow(/carries credentials/);
    expect(() => validateRemoteTemplate('https://user:tok3n@h/x.git', 'flag')).not.toThrow(/tok3n/);
    expect(validateRemoteTemplate('git@github.com:me/{agentId}.git', 'flag')).toContain('git@');
    expect(() => validateRemoteTemplate('not a url', 'flag')).toThrow(/not a git URL/);
  });

  it('refuses a fixed URL for several agents', () => {
    const layer = validateLayer({ remote: 'https://h/one.git', agents: [ID, ID.replace('4000', '4001')] }, 'f');
    expect(() => mergeLayers([layer])).toThrow(/has no \{agentId\}/);
  });
});

describe('config layers', () => {
  it('names unknown keys and refuses secrets in files', () => {
    expect(() => validateLayer({ remtoe: 'x' }, 'cfg.json')).toThrow(/cfg.json: unknown key "remtoe"/);
    expect(errorLine(() => validateLayer({ gitToken: 'abc' }, 'cfg.json'))).toMatch(/secrets do not go in config files/);
    expect(() => validateLayer({ webhookPort: 'eighty' }, 'cfg.json')).toThrow(/must be a number/);
    expect(() => validateLayer([], 'cfg.json')).toThrow(/expected an object/);
  });

  it('later layers win and the Letta URL loses its trailing slash', () => {
    const cfg = mergeLayers([{ lettaUrl: 'http://a:1/' }, { lettaUrl: 'http://b:2/' }]);
    expect(cfg.lettaUrl).toBe('http://b:2');
    expect(cfg.gitTokenEnv).toBe('LETTA_MEMFS_GIT_TOKEN');
  });
});

describe('redaction and errors', () => {
  it('never prints URL user info or registered secrets', () => {
    expect(redactUrl('https://x:sekret@h/r.git')).toBe('https://***@h/r.git');
    expect(redact('token sekret123 in https://a:b@h', ['sekret123'])).toBe('token *** in https://***@h');
  });

  it('formats errors as one line with the fix', () => {
    expect(formatError(new UserError('bad\nthing', 'do x'))).toBe('bad thing (fix: do x)');
  });
});
