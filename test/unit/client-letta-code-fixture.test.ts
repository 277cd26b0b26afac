import { describe, expect, it } from 'vitest';
import { cacheRoot, missingDependency } from '../fixtures/letta-code.js';

// The real-client fixture drops exactly the dependencies npm cannot find; anything else must stay an install failure.
describe('letta-code fixture: npm errors', () => {
  it('names the dependency npm reports missing', () => {
    expect(
      missingDependency(
        'npm error code ETARGET\nnpm error notarget No matching version found for @janhapke/sharp-electron@0.35.3-electron.1.\nnpm error notarget In most cases',
      ),
    ).toBe('@janhapke/sharp-electron');
    expect(missingDependency('npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/@letta-ai%2ftrajectory - Not found\n')).toBe('@letta-ai/trajectory');
    expect(missingDependency("npm error 404  'left-pad@9.9.9' is not in this registry.")).toBe('left-pad');
  });

  it('does not mistake other failures for a missing dependency', () => {
    expect(missingDependency('npm error code EACCES\nnpm error syscall mkdir')).toBeUndefined();
    expect(missingDependency('npm error code ECONNREFUSED')).toBeUndefined();
  });

  it('caches outside the clone, under LETTA_MEMFS_TEST_CACHE or ~/.cache', () => {
    expect(cacheRoot({ LETTA_MEMFS_TEST_CACHE: '/x/cache', HOME: '/h' })).toBe('/x/cache');
    expect(cacheRoot({ HOME: '/h' })).toBe('/h/.cache/letta-memfs-hooks');
  });
});
