// Builds the self-contained runtime: dist/runtime/{cli,hook,poke-after-push,background-push}.mjs plus shared chunks,
// and pre-push.cjs (below), with every dependency bundled in. The package's bin runs it, and `init` copies the directory to a stable per-version place
// that installed hooks point at, so hooks keep working when the installing package (an npx cache, a clone, a global
// prefix) goes away. Code splitting keeps each command's and each hook's modules in their own chunks, loaded on
// demand: a pre-push parses only what it runs (the hook path must stay light, issue 9).
//
//   node scripts/build-runtime.mjs      (part of `npm run build`, so of prepack; test/runtime-setup.ts runs it when stale)
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { inputsHash, ROOT, STAMP } from './runtime-inputs.mjs';

const OUT = path.join(ROOT, 'dist', 'runtime');

// Hashed before building and written after: a source edited mid-build leaves a stamp that no longer matches (so the
// next test run rebuilds), never a stale bundle stamped fresh. An interrupted build leaves no stamp.
const inputs = inputsHash();
fs.rmSync(STAMP, { force: true });
fs.rmSync(OUT, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: {
    cli: 'src/cli/main.ts',
    hook: 'src/cli/hooks/run.ts',
    'poke-after-push': 'src/client/poke-after-push.ts',
    'background-push': 'src/client/background-push-run.ts',
    // Not a process of its own: what pre-push.cjs imports for unusual frontmatter (below).
    frontmatter: 'src/validate/frontmatter.ts',
  },
  outdir: OUT,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Minified: a hook parses every chunk it loads on each run, and fewer bytes parse faster.
  // CommonJS dependencies (proper-lockfile and its helpers) call require() for node builtins, which ESM lacks.
  banner: { js: "import { createRequire as __lmhRequire } from 'node:module'; const require = __lmhRequire(import.meta.url);" },
  legalComments: 'none',
  minify: true,
  logLevel: 'warning',
});

// The client's pre-push once more, alone, as one CommonJS file (hooks/shim.sh runs it for pre-push): node loads
// that faster than hook.mjs's ES module graph (no ES loader, no resolution per chunk), and CommonJS keeps the node
// builtins of lazily imported modules lazy (an ES bundle would hoist the poke's node:crypto to the top). The yaml
// parser (~100 KB, needed only for frontmatter the strict parser leaves alone) stays out: that one dynamic import
// loads frontmatter.mjs, built above. Measured per push: ~10 ms less CPU for each of the two (bench/hook-overhead,
// issue 9). import.meta.url (core/package.ts) is the file's own URL.
const frontmatterApart = {
  name: 'frontmatter-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/frontmatter\.js$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './frontmatter.mjs', external: true } : undefined));
  },
};
/** One minified CommonJS file per entry, everything bundled in. */
const cjsFile = { absWorkingDir: ROOT, outdir: OUT, outExtension: { '.js': '.cjs' }, bundle: true, format: 'cjs', platform: 'node', target: 'node20', legalComments: 'none', minify: true, logLevel: 'warning' };
await build({
  ...cjsFile,
  entryPoints: { 'pre-push': 'src/cli/hooks/pre-push-run.ts' },
  define: { 'import.meta.url': '__lmhUrl' },
  banner: { js: "const __lmhUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [frontmatterApart],
});
// The guard each hook runs before the runtime (src/cli/hooks/guard.ts), one small CommonJS file: install embeds
// its text in every hook file (node -e), so it must need nothing beside it.
await build({ ...cjsFile, entryPoints: { guard: 'src/cli/hooks/guard.ts' } });
const bundled = fs.readFileSync(path.join(OUT, 'pre-push.cjs'), 'utf8');
if (!bundled.includes('import("./frontmatter.mjs")') || bundled.includes('parseDocument')) {
  throw new Error('pre-push.cjs must load the yaml parser through import("./frontmatter.mjs"), not bundle it');
}
fs.writeFileSync(STAMP, `${inputs}\n`);
