#!/usr/bin/env node
// Builds a Dockerfile's image content the way an engine would, without one (none on the CI machine): each stage gets
// its own root directory in a temp dir; COPY takes exactly the files the build context lets in (the Dockerfile's
// own `<Dockerfile>.dockerignore`, else `.dockerignore` at the context root) or another stage's files; RUN runs its
// shell command in that root, absolute paths mapped into it. `apt-get install` steps are checked against the host
// instead of run. Last, the final stage's ENTRYPOINT + CMD is started (its one `--port` moved to a free port, since
// the machine is shared) on an empty volume and must answer GET /healthz: the image starts on a fresh host.
//
//   node scripts/dockerfile/build.mjs [--context <dir>] [--target <stage>] [--env K=V]... [--keep] <Dockerfile>
//
// --env sets a variable for the start, as `docker run -e` does; the start also sees this process's environment, which
// is where a secret goes (never argv).
// --target stops after that stage, as `docker build --target` does (no start check then).
// Exit 0 when every step worked, 1 with the failing step's line otherwise, 2 for usage.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { globToRegExp, isIgnored, parseDockerfile, parseIgnore, splitArgs } from './parse.mjs';

const args = process.argv.slice(2);
let context = process.cwd();
let keep = false;
let target;
const runEnv = {};
let dockerfile;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--context') context = path.resolve(args[++i] ?? '');
  else if (args[i] === '--keep') keep = true;
  else if (args[i] === '--target') target = args[++i];
  else if (args[i] === '--env') {
    const m = /^(\w+)=(.*)$/s.exec(args[++i] ?? '');
    if (!m) usage('--env takes NAME=value');
    runEnv[m[1]] = m[2];
  }
  else if (!dockerfile && !args[i].startsWith('-')) dockerfile = path.resolve(args[i]);
  else usage(`unknown argument ${args[i]}`);
}
if (!dockerfile) usage('name the Dockerfile');

function usage(msg) {
  console.error(`dockerfile build: ${msg}; usage: node scripts/dockerfile/build.mjs [--context <dir>] [--target <stage>] [--env K=V]... [--keep] <Dockerfile>`);
  process.exit(2);
}

class StepError extends Error {}
const rel = (p) => path.relative(process.cwd(), p) || '.';
const fail = (ins, msg) => { throw new StepError(`${rel(dockerfile)}:${ins.line}: ${ins.op} ${ins.rest.slice(0, 80)}: ${msg}`); };

const ignoreFile = [`${dockerfile}.dockerignore`, path.join(context, '.dockerignore')].find((f) => fs.existsSync(f));
const ignore = ignoreFile ? parseIgnore(fs.readFileSync(ignoreFile, 'utf8')) : [];
const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-build-'));
console.log(`dockerfile build: ${rel(dockerfile)}, context ${rel(context)}${ignoreFile ? `, ignore file ${rel(ignoreFile)}` : ''}, in ${tmp}`);

/** `$X` / `${X}` from the stage's ARG and ENV values. */
const expand = (s, vars) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => vars[a ?? b] ?? '');
/** An absolute path inside the image, as a path in the stage's root dir. */
const inRoot = (root, p) => path.join(root, p);
/** Absolute paths in a shell command, mapped into the stage root (never /dev or /proc). */
const mapPaths = (root, cmd) => cmd.replace(/(^|[\s=:'"])(\/(?!dev\/|proc\/)[^\s;&|'"<>()]*)/g, (_, pre, p) => pre + inRoot(root, p));

/** Files of the build context under `src` that the ignore file lets in: [absolute source, path relative to src]. */
function contextFiles(src) {
  const r = path.relative(context, src).split(path.sep).join('/');
  if (r.startsWith('..')) return [];
  const st = fs.lstatSync(src, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) return isIgnored(ignore, r) ? [] : [[src, path.basename(src)]];
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      const relCtx = path.relative(context, abs).split(path.sep).join('/');
      if (e.isDirectory()) walk(abs);
      else if (!isIgnored(ignore, relCtx)) out.push([abs, path.relative(src, abs)]);
    }
  };
  walk(src);
  return out;
}

function stageFiles(src) {
  const st = fs.lstatSync(src, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) return [[src, path.basename(src)]];
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) walk(abs);
      else out.push([abs, path.relative(src, abs)]);
    }
  };
  walk(src);
  return out;
}

/** A COPY source with a glob in its last segment, expanded against its directory. */
function expandGlob(base, src) {
  if (!/[*?[]/.test(src)) return [path.join(base, src)];
  const dir = path.join(base, path.dirname(src));
  const re = globToRegExp(path.basename(src));
  return (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((n) => re.test(n)).map((n) => path.join(dir, n));
}

function copy(ins, stage, byName) {
  const { flags, words, exec } = splitArgs(ins.rest);
  const list = (exec ?? words).map((w) => expand(w, stage.vars));
  if (list.length < 2) fail(ins, 'needs a source and a destination');
  const dest = list.at(-1);
  const sources = list.slice(0, -1);
  const from = flags.from !== undefined ? byName.get(flags.from) : undefined;
  if (flags.from !== undefined && !from) fail(ins, `--from=${flags.from}: no earlier stage of that name`);
  const destAbs = inRoot(stage.root, path.posix.isAbsolute(dest) ? dest : path.posix.join(stage.workdir, dest));
  const intoDir = dest.endsWith('/') || sources.length > 1;
  for (const s of sources) {
    const paths = from ? expandGlob(from.root, s) : expandGlob(context, s);
    const files = paths.flatMap((p) => (from ? stageFiles(p) : contextFiles(p)));
    if (!files.length) fail(ins, `${s}: not found in ${from ? `stage ${flags.from}` : `the build context (missing, or left out by ${ignoreFile ? rel(ignoreFile) : 'nothing'})`}`);
    const isDir = paths.some((p) => fs.statSync(p).isDirectory());
    for (const [abs, r] of files) {
      const to = isDir ? path.join(destAbs, r) : intoDir ? path.join(destAbs, path.basename(abs)) : destAbs;
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(abs, to);
      fs.chmodSync(to, fs.statSync(abs).mode & 0o777);
    }
  }
}

function stageEnv(stage) {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(stage.vars)) env[k] = v.startsWith('/') ? inRoot(stage.root, v) : v;
  // The image's /usr/local and /root: where `npm install -g` puts the package and npm keeps its state.
  env.HOME = inRoot(stage.root, '/root');
  env.npm_config_prefix = inRoot(stage.root, '/usr/local');
  env.npm_config_cache = path.join(process.env.HOME || os.homedir(), '.npm'); // the host's cache: no refetching
  env.npm_config_update_notifier = 'false';
  env.PATH = `${inRoot(stage.root, '/usr/local/bin')}:${process.env.PATH}`;
  fs.mkdirSync(env.HOME, { recursive: true });
  return env;
}

function run(ins, stage) {
  const { exec, shell } = splitArgs(ins.rest);
  const cmd = expand(exec ? exec.join(' ') : shell, stage.vars);
  if (/\bapt-get\b/.test(cmd)) {
    // System packages cannot be installed here; the commands the image needs from them must exist on the host.
    const pkgs = /apt-get install\s+([^&;|]*)/.exec(cmd)?.[1].split(/\s+/).filter((w) => w && !w.startsWith('-')) ?? [];
    for (const p of pkgs.filter((p) => p === 'git')) {
      if (spawnSync(p, ['--version']).status !== 0) fail(ins, `${p} is not on this host`);
    }
    console.log(`  (system packages ${pkgs.join(' ')}: checked on the host, not installed)`);
    return;
  }
  const cwd = inRoot(stage.root, stage.workdir);
  fs.mkdirSync(cwd, { recursive: true });
  const r = spawnSync('sh', ['-c', mapPaths(stage.root, cmd)], { cwd, env: stageEnv(stage), stdio: 'inherit' });
  if (r.status !== 0) fail(ins, `exit ${r.status ?? r.signal}`);
}

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

/** The final stage's ENTRYPOINT + CMD, on an empty volume, must answer GET /healthz within 30 s. */
async function start(stage) {
  const entry = stage.entrypoint ?? [];
  const argv = [...entry, ...(stage.cmd ?? [])];
  if (!argv.length) return;
  const portAt = argv.indexOf('--port');
  const hostAt = argv.indexOf('--host');
  if (portAt < 0) { console.log('  (no --port in ENTRYPOINT/CMD: start not checked)'); return; }
  const port = await freePort();
  argv[portAt + 1] = String(port);
  if (hostAt >= 0) argv[hostAt + 1] = '127.0.0.1';
  const mapped = argv.map((a) => (a.startsWith('/') ? inRoot(stage.root, a) : a));
  for (const a of argv) if (a.startsWith('/')) fs.mkdirSync(inRoot(stage.root, a), { recursive: true }); // empty volumes
  const bin = spawnSync('sh', ['-c', `command -v "${mapped[0]}"`], { env: stageEnv(stage), encoding: 'utf8' }).stdout.trim();
  if (!bin) throw new StepError(`ENTRYPOINT ${mapped[0]}: not found on the image's PATH`);
  console.log(`start: ${argv.join(' ')} (port ${port}, host 127.0.0.1 here)`);
  const child = spawn(bin, mapped.slice(1), { env: { ...stageEnv(stage), ...runEnv }, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
      if (status === 200 || status === 503) { console.log(`start: GET /healthz -> ${status}`); return; }
      const done = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 250))]);
      if (done !== undefined) throw new StepError(`CMD ${argv.join(' ')}: exited (${done}) instead of serving`);
    }
    throw new StepError(`CMD ${argv.join(' ')}: no answer on /healthz within 30 s`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function main() {
  const byName = new Map();
  let last;
  for (const s of stages) {
    const stage = { ...s, root: path.join(tmp, `stage-${s.index}`), workdir: '/', vars: {}, entrypoint: undefined, cmd: undefined };
    fs.mkdirSync(stage.root, { recursive: true });
    console.log(`stage ${s.index}${s.name ? ` (${s.name})` : ''}: FROM ${s.image}`);
    for (const ins of s.instructions) {
      console.log(`  ${ins.op} ${ins.rest}`);
      if (ins.op === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, expand(ins.rest, stage.vars));
      else if (ins.op === 'ARG' || ins.op === 'ENV') {
        const m = /^(\w+)(?:[= ](.*))?$/.exec(ins.rest);
        if (m && (ins.op === 'ENV' || !(m[1] in stage.vars))) stage.vars[m[1]] = expand((m[2] ?? '').trim(), stage.vars);
      } else if (ins.op === 'COPY' || ins.op === 'ADD') copy(ins, stage, byName);
      else if (ins.op === 'RUN') run(ins, stage);
      else if (ins.op === 'ENTRYPOINT') stage.entrypoint = splitArgs(ins.rest).exec ?? ['sh', '-c', ins.rest];
      else if (ins.op === 'CMD') stage.cmd = splitArgs(ins.rest).exec ?? ['sh', '-c', ins.rest];
      // USER, EXPOSE, LABEL, HEALTHCHECK...: nothing to build here.
    }
    if (s.name) byName.set(s.name, stage);
    byName.set(String(s.index), stage);
    last = stage;
    if (target !== undefined && (s.name === target || String(s.index) === target)) return;
  }
  if (target !== undefined) throw new StepError(`--target ${target}: no stage of that name`);
  await start(last);
}

let code = 0;
try {
  await main();
  console.log(`dockerfile build: ${rel(dockerfile)}: ok`);
} catch (e) {
  if (!(e instanceof StepError)) throw e;
  console.error(`dockerfile build: FAILED: ${e.message}`);
  code = 1;
} finally {
  if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
