import { describe, expect, it } from 'vitest';
import { isAgentId, isLocalAgentId, validateAgentId } from '../../src/core/agent-id.js';
import { localAgentFromPath } from '../../src/client/local-backend.js';
import { workTreeBlocker } from '../../src/client/local-sync.js';

const LOCAL = 'agent-local-6f1c2b7e-3d4a-4b5c-9d8e-0a1b2c3d4e5f';

describe('local-backend agent ids (agent-local-${randomUUID()})', () => {
  it('accepts exactly the form Letta Code generates and nothing looser', () => {
    expect(isLocalAgentId(LOCAL)).toBe(true);
    expect(validateAgentId(LOCAL)).toBe(LOCAL);
    for (const bad of [
      'agent-local-default',
      'agent-local-6f1c2b7e-3d4a-1b5c-9d8e-0a1b2c3d4e5f', // not version 4
      'agent-local-6f1c2b7e-3d4a-4b5c-7d8e-0a1b2c3d4e5f', // not the RFC 4122 variant
      LOCAL.toUpperCase(),
      `${LOCAL}/../x`,
      `agent-local-${LOCAL}`,
      `${LOCAL}\n`,
    ]) {
      expect(isAgentId(bad), bad).toBe(false);
    }
  });
});

describe('localAgentFromPath', () => {
  it('names the agent only for <storage>/memfs/<agent-local id>/memory', () => {
    expect(localAgentFromPath(`/h/.letta/lc-local-backend/memfs/${LOCAL}/memory`, ['/h/.letta/lc-local-backend'])).toBe(LOCAL);
    expect(localAgentFromPath(`/h/.letta/lc-local-backend/memfs/${LOCAL}/memory`, ['/elsewhere'])).toBeUndefined();
    expect(localAgentFromPath(`/h/.letta/agents/${LOCAL}/memory`, ['/h/.letta/lc-local-backend'])).toBeUndefined();
    expect(localAgentFromPath('/h/.letta/lc-local-backend/memfs/agent-local-default/memory', ['/h/.letta/lc-local-backend'])).toBeUndefined();
  });
});

describe('workTreeBlocker', () => {
  const clean = { head: 'refs/heads/main', inProgress: [], porcelain: '' };
  it('lets main move only on a clean main with nothing in progress', () => {
    expect(workTreeBlocker(clean)).toBeUndefined();
    expect(workTreeBlocker({ ...clean, porcelain: '?? new.md\n' })).toMatch(/uncommitted changes \(1 path/);
    expect(workTreeBlocker({ ...clean, inProgress: ['rebase-merge'] })).toMatch(/rebase-merge exists/);
    expect(workTreeBlocker({ ...clean, head: undefined })).toMatch(/HEAD is detached/);
    expect(workTreeBlocker({ ...clean, head: 'refs/heads/letta/reflection/x' })).toMatch(/not main/);
  });
});
