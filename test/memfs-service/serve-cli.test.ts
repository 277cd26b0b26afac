// `serve` refuses bad start-up input with one line and a fix, never takes the secret from argv, and exits at once
// when it cannot listen.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/repo.js';
import { expectNoSecret, expectRefused, runHostile } from '../hostile/harness.js';

const SECRET = 'a'.repeat(20) + 'Secret-Value-0123456789';
let t: { dir: string; cleanup: () => void };
let root: string;

beforeAll(() => {
  t = tempDir('lmh-serve-cli-');
  root = path.join(t.dir, 'memfs');
  fs.mkdirSync(root);
});
afterAll(() => t.cleanup());

const env = (extra: NodeJS.ProcessEnv = {}) => ({ LETTA_MEMFS_SERVICE_SECRET: undefined, ...extra });

describe('serve: start-up refusals', () => {
  it('no secret: exit 2, one line naming both sources', async () => {
    const r = await runHostile(['serve', '--memfs-root', root, '--port', '0'], { cwd: t.dir, env: env() });
    expectRefused(r, 2, /LETTA_MEMFS_SERVICE_SECRET or pass --secret-file/);
  });

  it('--config naming a code file is refused before anything runs: nothing from it executes', async () => {
    const marker = path.join(t.dir, 'ran');
    const evil = path.join(t.dir, 'evil.config.mjs');
    fs.writeFileSync(evil, `import fs from 'node:fs'; fs.writeFileSync(${JSON.stringify(marker)}, 'x'); export default {};\n`);
    const r = await runHostile(['serve', '--memfs-root', root, '--port', '0', '--config', evil], { cwd: t.dir, env: env({ LETTA_MEMFS_SERVICE_SECRET: SECRET }) });
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(marker)).toBe(false);
    expectNoSecret(SECRET, r);
  });

  it('a secret on the command line is refused and not echoed', async () => {
    const r = await runHostile(['serve', '--memfs-root', root, '--port', '0', SECRET], { cwd: t.dir, env: env({ LETTA_MEMFS_SERVICE_SECRET: SECRET }) });
    expectRefused(r, 2, /never goes on the command line/);
    expect(r.err).not.toContain(SECRET);
  });

  it('a secret file readable by others is refused (chmod 600 is the fix); a 0600 one works', async () => {
    const file = path.join(t.dir, 'secret');
    fs.writeFileSync(file, `${SECRET}\n`, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const r = await runHostile(['serve', '--memfs-root', root, '--port', '0', '--secret-file', file], { cwd: t.dir, env: env() });
    expectRefused(r, 1, /chmod 600/);
    expectNoSecret(SECRET, r);
    const link = path.join(t.dir, 'secret-link');
    fs.chmodSync(file, 0o600);
    fs.symlinkSync(file, link);
    expectRefused(await runHostile(['serve', '--memfs-root', root, '--port', '0', '--secret-file', link], { cwd: t.dir, env: env() }), 1, /not a symlink/);
  });

  it('a secret of the wrong shape is refused without echoing it', async () => {
    const bad = 'short/secret';
    const r = await runHostile(['serve', '--memfs-root', root, '--port', '0'], { cwd: t.dir, env: env({ LETTA_MEMFS_SERVICE_SECRET: bad }) });
    expectRefused(r, 2, /wrong shape/);
    expect(r.err).not.toContain(bad);
  });

  it('a memfs root that is a file and a bad port are refused (a missing one is a fresh host: test/cli/works-as-written)', async () => {
    const e = env({ LETTA_MEMFS_SERVICE_SECRET: SECRET });
    const file = path.join(t.dir, 'a-file');
    fs.writeFileSync(file, '');
    expectRefused(await runHostile(['serve', '--memfs-root', file, '--port', '0'], { cwd: t.dir, env: e }), 1, /not a directory/);
    expectRefused(await runHostile(['serve', '--memfs-root', root, '--port', '70000'], { cwd: t.dir, env: e }), 2, /--port/);
  });

  it('a taken port: non-zero exit (not a hang), one line, the secret nowhere', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const r = await runHostile(['serve', '--memfs-root', root, '--port', String(port), '--letta-url', 'http://127.0.0.1:9'], { cwd: t.dir, env: env({ LETTA_MEMFS_SERVICE_SECRET: SECRET }), timeoutMs: 10_000 });
      const ms = Date.now() - started;
      console.log(`serve on a taken port exited ${r.code} after ${ms} ms`);
      expectRefused(r, 1, /cannot listen on 127\.0\.0\.1:\d+: the port is taken/);
      expectNoSecret(SECRET, r);
    } finally {
      blocker.close();
    }
  });
});
