/**
 * What the client's hot paths load, read from esbuild's metafile for the same bundle settings as
 * scripts/build-runtime.mjs (ESM, code splitting): the modules in the static import closure of the background push
 * (one process per local commit) and of the local daemon's round. Nothing from the server role (src/server/) and not
 * the bundled HTTP client (undici, ~538 KB minified) may be in them: each would be parsed on every push.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/** Inputs of every output file reachable from the entry's output by static imports. */
function staticInputs(meta: Metafile, entry: string): string[] {
  const out = Object.entries(meta.outputs).find(([, o]) => o.entryPoint === entry)?.[0];
  if (!out) throw new Error(`no output for ${entry}`);
  const seen = new Set<string>();
  const walk = (o: string) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const i of meta.outputs[o].imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(out);
  return [...seen].flatMap((o) => Object.keys(meta.outputs[o].inputs));
}

describe('client hot paths', () => {
  it('the background push and the daemon round load nothing from src/server/ and no bundled HTTP client; pre-push no poke code', async () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-meta-'));
    try {
      const r = await build({
        absWorkingDir: ROOT,
        entryPoints: ['src/client/background-push-run.ts', 'src/client/daemon/daemon.ts', 'src/server/repo/pull.ts', 'src/cli/hooks/pre-push.ts'],
        outdir,
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        metafile: true,
        write: false,
        logLevel: 'silent',
      });
      const push = staticInputs(r.metafile, 'src/client/background-push-run.ts');
      const daemon = staticInputs(r.metafile, 'src/client/daemon/daemon.ts');
      expect(push).toContain('src/client/local-sync.ts');
      expect(daemon).toContain('src/client/local-sync.ts');
      for (const inputs of [push, daemon]) {
        expect(inputs.filter((i) => i.startsWith('src/server/'))).toEqual([]);
        expect(inputs.filter((i) => i.includes('node_modules/undici/'))).toEqual([]);
      }
      // A push without a poke configured never loads the poke waiter's starter or its signing (node:crypto).
      const prePush = staticInputs(r.metafile, 'src/cli/hooks/pre-push.ts');
      expect(prePush).toContain('src/client/pre-push.ts');
      expect(prePush.filter((i) => i === 'src/client/poke.ts' || i === 'src/sync/poke-signature.ts')).toEqual([]);
      // The check can fail: the server's pull loads src/server/ (and, like every outgoing request, core/http's client,
      // which replaced the bundled undici everywhere).
      const server = staticInputs(r.metafile, 'src/server/repo/pull.ts');
      expect(server.some((i) => i.startsWith('src/server/letta/'))).toBe(true);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('server hot paths', () => {
  it('prom-client loads only with watch and serve: never on a hook or the CLI start', async () => {
    const entries = ['src/cli/main.ts', 'src/cli/hooks/run.ts', 'src/cli/commands/serve.ts', 'src/server/watch/watcher.ts', 'src/cli/commands/status.ts'];
    const r = await build({
      absWorkingDir: ROOT,
      entryPoints: entries,
      // Nothing is written (write: false): the outdir only names the outputs.
      outdir: path.join(os.tmpdir(), 'lmh-meta-unwritten'),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const prom = (entry: string) => staticInputs(r.metafile, entry).some((i) => i.includes('node_modules/prom-client/'));
    for (const light of ['src/cli/main.ts', 'src/cli/hooks/run.ts', 'src/cli/commands/status.ts']) expect(prom(light), light).toBe(false);
    // The check can fail: the two daemons do load it.
    expect(prom('src/cli/commands/serve.ts')).toBe(true);
    expect(prom('src/server/watch/watcher.ts')).toBe(true);
  });
});
