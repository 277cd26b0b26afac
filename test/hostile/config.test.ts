// Class 1, code from a repo runs: config files are data, read only where no repo content can put them, parsed safely.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { requireBuild } from '../client/env.js';
import { expectNoStack } from './harness.js';
import { clientInit, expectRefusedUnchanged, makeWorld, serverInit, TOKEN, type World } from './world.js';

requireBuild();

const REMOTE = 'https://git.example.com/agents/{agentId}.git';
const ATTACKER = 'attacker.invalid';

/** Code that writes a marker file if anything ever runs it, in the module flavour the name implies. */
function codeFor(name: string, marker: string): string {
  const m = JSON.stringify(marker);
  if (/\.(mjs|mts)$/.test(name)) return `import { writeFileSync } from 'node:fs';\nwriteFileSync(${m}, 'ran');\nexport default {};\n`;
  if (/\.(ts|cts)$/.test(name)) return `import * as fs from 'fs';\nfs.writeFileSync(${m}, 'ran');\nexport default {};\n`;
  return `require('fs').writeFileSync(${m}, 'ran');\nmodule.exports = {};\n`;
}

/** Data that, if read, would send pushes' pokes to an attacker (pokeUrl is set by no flag in these runs). */
function dataFor(name: string): string {
  return /\.json$/.test(name) ? JSON.stringify({ pokeUrl: `http://${ATTACKER}:8284` }) : `pokeUrl: http://${ATTACKER}:8284\n`;
}

const CODE_EXT = ['js', 'cjs', 'mjs', 'ts', 'cts', 'mts'];
const RC = '.letta-memfs-hooksrc';
// Every name cosmiconfig 9 searches by default, plus the TypeScript module flavours.
const CODE_NAMES = [...CODE_EXT.map((e) => `${RC}.${e}`), ...CODE_EXT.map((e) => `.config/letta-memfs-hooksrc.${e}`), ...['js', 'ts', 'cjs', 'mjs'].map((e) => `letta-memfs-hooks.config.${e}`)];
const DATA_NAMES = [RC, `${RC}.json`, `${RC}.yaml`, `${RC}.yml`, '.config/letta-memfs-hooksrc', '.config/letta-memfs-hooksrc.json', '.config/letta-memfs-hooksrc.yaml', '.config/letta-memfs-hooksrc.yml'];

function plant(dir: string, name: string, w: World): void {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const isCode = CODE_NAMES.includes(name) || /\.(js|cjs|mjs|ts|cts|mts)$/.test(name);
  fs.writeFileSync(file, isCode ? codeFor(name, path.join(w.markers, name.replaceAll('/', '_'))) : dataFor(name));
}

function plantPackageJson(dir: string): void {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'memory', 'letta-memfs-hooks': { pokeUrl: `http://${ATTACKER}:8284` } }));
}

const tokenEnv = { LETTA_MEMFS_GIT_TOKEN: TOKEN };

/** A successful client init that must ignore the planted file(s) with exactly one warning line naming them. */
async function expectIgnoredOnInit(w: World, names: string[]) {
  const r = await w.run(clientInit(['--no-verify', '--remote', REMOTE]), { env: tokenEnv });
  expect(r.code, r.err).toBe(0);
  const lines = r.err.trimEnd().split('\n');
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^letta-memfs-hooks: warning: ignored .*: config is not read from the memory checkout, whose files come from the memory repo/);
  for (const n of names) expect(lines[0]).toContain(path.join(w.checkout, n));
  expect(w.markersWritten()).toEqual([]);
  const settings = fs.readFileSync(path.join(w.checkout, '.git', 'letta-memfs', 'settings.json'), 'utf8');
  expect(settings).not.toContain(ATTACKER);
  expect(r.out).not.toContain(ATTACKER);
  expectNoStack(r.err);
}

describe('class 1: nothing from a checkout runs, and its config files are not read', () => {
  it.each([...CODE_NAMES, ...DATA_NAMES])('client init ignores %s in the work tree, with a warning', async (name) => {
    const w = await makeWorld();
    plant(w.checkout, name, w);
    await expectIgnoredOnInit(w, [name]);
  });

  it('client init ignores a package.json "letta-memfs-hooks" key in the work tree', async () => {
    const w = await makeWorld();
    plantPackageJson(w.checkout);
    await expectIgnoredOnInit(w, ['package.json']);
  });

  it('acceptance: a checkout holding config files of every name: a refused init runs none and changes nothing', async () => {
    const w = await makeWorld();
    for (const n of [...CODE_NAMES, ...DATA_NAMES]) plant(w.checkout, n, w);
    plantPackageJson(w.checkout);
    // No --remote: any file that was read would supply one (or a pokeUrl); the refusal must be "no remote".
    const r = await expectRefusedUnchanged(w, clientInit(['--no-verify']), 2, /no external remote configured \(fix: pass --remote/, { env: tokenEnv });
    expect(r.err).not.toContain(ATTACKER);
  });

  it('acceptance: the same checkout with a successful init: one warning naming every file, nothing ran', async () => {
    const w = await makeWorld();
    for (const n of [...CODE_NAMES, ...DATA_NAMES]) plant(w.checkout, n, w);
    plantPackageJson(w.checkout);
    await expectIgnoredOnInit(w, [...CODE_NAMES, ...DATA_NAMES, 'package.json']);
  });

  it('reads the per-checkout config from .git/letta-memfs-hooks.yaml, where no pull or agent can write', async () => {
    const w = await makeWorld();
    fs.writeFileSync(path.join(w.checkout, '.git', 'letta-memfs-hooks.yaml'), 'pokeUrl: http://watch.example:8284\n');
    const r = await w.run(clientInit(['--no-verify', '--remote', REMOTE]), { env: tokenEnv });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('http://watch.example:8284/poke/');
  });
});

describe('class 1: the user config dir and --config take data only', () => {
  it.each(CODE_EXT)('config.%s in the user config dir is never run, with a warning', async (ext) => {
    const w = await makeWorld();
    const dir = path.join(w.home, '.config', 'letta-memfs-hooks');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `config.${ext}`), codeFor(`config.${ext}`, path.join(w.markers, `config.${ext}`)));
    const r = await w.run(clientInit(['--no-verify', '--remote', REMOTE]), { env: tokenEnv });
    expect(r.code, r.err).toBe(0);
    expect(r.err.trimEnd().split('\n')).toEqual([expect.stringMatching(new RegExp(`warning: ignored .*config\\.${ext}: code config is never run; convert it to .*config\\.json`))]);
    expect(w.markersWritten()).toEqual([]);
  });

  it.each(['x.js', 'x.cjs', 'x.mjs', 'x.ts', 'x.mts', 'x.cts', 'x.JS'])('--config %s is refused (exit 2), not run', async (name) => {
    const w = await makeWorld();
    const file = path.join(w.dir, name);
    fs.writeFileSync(file, codeFor(name.toLowerCase(), path.join(w.markers, name)));
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', REMOTE, '--config', file]), 2, /only JSON or YAML config files are read .*\(fix: convert it to a \.json or \.yaml file\)/, { env: tokenEnv });
  });

  it('init --server --config x.js is refused (exit 2), not run, and writes nothing there', async () => {
    const w = await makeWorld({ server: true });
    const file = path.join(w.dir, 'srv.js');
    fs.writeFileSync(file, codeFor('srv.js', path.join(w.markers, 'srv')));
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`, '--config', file]), 2, /only JSON or YAML config files are read/, { cwd: w.dir });
    expect(fs.readFileSync(file, 'utf8')).toContain('writeFileSync');
  });
});

// Hostile YAML/JSON in each place config is read: refused in one line, fast, without a crash.
const LAUGHS = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n') + '\n';
const HOSTILE: [string, string, string | Buffer, RegExp][] = [
  ['billion laughs (anchors and aliases)', 'yaml', LAUGHS, /uses an anchor/],
  ['a merge key through an alias', 'yaml', 'base: &b {syncRetries: 1}\nother:\n  <<: *b\n', /uses an anchor/],
  ['a bare alias to an undefined anchor', 'yaml', 'syncRetries: *nope\n', /not valid JSON or YAML|uses an alias/],
  ['a !!js/function tag', 'yaml', 'remote: !!js/function "function () { require(\'fs\') }"\n', /not valid JSON or YAML \(line 1: TAG_RESOLVE_FAILED\)|uses a tag/],
  ['a custom !tag', 'yaml', 'remote: !include /etc/passwd\n', /not valid JSON or YAML|uses a tag/],
  ['a !!binary value', 'yaml', 'remote: !!binary aGVsbG8=\n', /uses a tag/],
  ['a !!set value', 'yaml', 'agents: !!set {a: null}\n', /uses a tag/],
  ['20,000 levels of nesting', 'yaml', '['.repeat(20000) + ']'.repeat(20000), /not valid JSON or YAML|too deeply nested/],
  ['20,000 levels of nesting (JSON)', 'json', '{"a":'.repeat(20000) + '1' + '}'.repeat(20000), /not valid JSON or YAML|too deeply nested|larger than/],
  ['a 2 MB file', 'json', Buffer.alloc(2 << 20, 0x20), /larger than 64 KiB/],
  ['duplicate keys', 'yaml', 'syncRetries: 1\nsyncRetries: 2\n', /DUPLICATE_KEY/],
  ['several documents', 'yaml', 'syncRetries: 1\n---\nsyncRetries: 2\n', /MULTIPLE_DOCS/],
  ['a __proto__ key', 'json', '{"__proto__": {"remote": "https://evil.example/x.git"}}', /unknown key "__proto__"/],
  ['a constructor key', 'yaml', 'constructor: x\n', /unknown key "constructor"/],
  ['a toString key', 'json', '{"toString": "x"}', /unknown key "toString"/],
  ['a list at the top', 'yaml', '- remote\n- x\n', /expected an object of settings/],
  ['a key with a terminal escape', 'json', '{"\\u001b[2J\\u001b]0;pwned\\u0007": 1}', /unknown key a key \(not shown\)/],
];

describe('class 1: hostile YAML and JSON are refused, never hang or crash', () => {
  it.each(HOSTILE)('%s in .git/letta-memfs-hooks.*', async (_name, ext, content, pattern) => {
    const w = await makeWorld();
    fs.writeFileSync(path.join(w.checkout, '.git', `letta-memfs-hooks.${ext}`), content);
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', REMOTE]), 2, pattern, { env: tokenEnv, timeoutMs: 20_000 });
  });

  it.each(HOSTILE.filter((_, i) => i % 3 === 0))('%s in the user config dir', async (_name, ext, content, pattern) => {
    const w = await makeWorld();
    const dir = path.join(w.home, '.config', 'letta-memfs-hooks');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `config.${ext}`), content);
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', REMOTE]), 2, pattern, { env: tokenEnv, timeoutMs: 20_000 });
  });

  it.each(HOSTILE.filter((_, i) => i % 3 === 1))('%s in the memfs root (init --server)', async (_name, ext, content, pattern) => {
    const w = await makeWorld({ server: true });
    fs.writeFileSync(path.join(w.memfs, `.letta-memfs-hooksrc.${ext}`), content);
    await expectRefusedUnchanged(w, serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`]), 2, pattern, { cwd: w.dir, timeoutMs: 20_000 });
  });

  it('a FIFO planted as the config file does not hang init', async () => {
    const w = await makeWorld();
    execFileSync('mkfifo', [path.join(w.checkout, '.git', 'letta-memfs-hooks.json')]);
    await expectRefusedUnchanged(w, clientInit(['--no-verify', '--remote', REMOTE]), 2, /not a regular file/, { env: tokenEnv, timeoutMs: 20_000 });
  });
});

describe('class 1: the memfs root reads .letta-memfs-hooksrc data files only', () => {
  it.each([`${RC}.js`, `${RC}.cjs`, `${RC}.mjs`, `${RC}.ts`, 'letta-memfs-hooks.config.js', '.config/letta-memfs-hooksrc.mjs'])(
    'init --server never runs %s in the memfs root, and says so',
    async (name) => {
      const w = await makeWorld({ server: true });
      plant(w.memfs, name, w);
      const r = await w.run(serverInit(w, ['--remote', `${w.dir}/ext/{agentId}.git`]), { cwd: w.dir });
      expect(r.code, r.err).toBe(0);
      expect(r.err.trimEnd().split('\n')).toEqual([expect.stringMatching(new RegExp(`warning: ignored ${path.join(w.memfs, name).replaceAll('.', '\\.')}: only .* are read there, as JSON or YAML data; code config is never run`))]);
      expect(w.markersWritten()).toEqual([]);
    },
  );
});
