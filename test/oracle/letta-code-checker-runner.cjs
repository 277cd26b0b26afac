'use strict';
/**
 * Letta Code's own commit checks, many trees in one process (run with the release's bundled node). Letta Code's
 * pre-commit (written into every checkout; 0.34.12) is bash glue around two node programs: the frontmatter validator
 * (the heredoc inside .git/hooks/pre-commit) and .git/hooks/letta-memory-constraints.cjs. Starting node twice per tree
 * costs ~0.3 s here, so this runner executes those two programs, verbatim from the checkout, in-process (one
 * `process`/`console` stand-in per run, the working directory set to the repo) and follows the bash glue step by step
 * (each step below quotes the line of the hook it mirrors). test/oracle/letta-code-checker.ts cross-checks a sample of
 * verdicts against the unmodified hook run by `git commit`, so a drift in this glue fails the test.
 *
 * stdin: JSON lines {id, repo, parent, tree, env?}; stdout: JSON lines {id, ok, output}.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.code = code;
  }
}

const git = (args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const gitOk = (args) => spawnSync('git', args, { stdio: 'ignore' }).status === 0;

/** A node program's source, run like `node <file> <argv>` with stdout/stderr captured; resolves to its exit code. */
async function runProgram(compiled, argv, env) {
  let out = '';
  let code;
  const proc = {
    argv: [process.execPath, 'program', ...argv],
    env,
    exit(c) {
      if (code === undefined) code = c ?? 0;
      throw new Exit(code);
    },
    execPath: process.execPath,
    versions: process.versions,
    platform: process.platform,
  };
  const cons = {
    log: (...a) => { if (code === undefined) out += a.join(' ') + '\n'; },
    error: (...a) => { if (code === undefined) out += a.join(' ') + '\n'; },
  };
  try {
    await compiled(require, proc, cons);
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
  }
  return { code: code ?? 0, out };
}

function compile(source, returnLast) {
  let body = source;
  if (returnLast) {
    // The checker's last statement starts its async main(); returning that promise lets us await it (the only edit).
    const at = body.lastIndexOf('\nmain().catch(');
    if (at < 0 || body.indexOf('\nmain().catch(') !== at) throw new Error('letta-memory-constraints.cjs: no single main().catch( call: the runner needs updating');
    body = body.slice(0, at) + '\nreturn main().catch(' + body.slice(at + '\nmain().catch('.length);
  }
  // eslint-disable-next-line no-new-func
  const fn = new Function('require', 'process', 'console', body);
  return async (req, proc, cons) => fn(req, proc, cons);
}

const programs = new Map();
function programsOf(repo) {
  let p = programs.get(repo);
  if (p) return p;
  const hooks = path.join(repo, '.git', 'hooks');
  const preCommit = fs.readFileSync(path.join(hooks, 'pre-commit'), 'utf8');
  const m = /<<'LETTA_MEMORY_FRONTMATTER'\n([\s\S]*?)\nLETTA_MEMORY_FRONTMATTER\n/.exec(preCommit);
  if (!m) throw new Error(`${hooks}/pre-commit: no LETTA_MEMORY_FRONTMATTER program: the runner needs updating`);
  p = {
    frontmatter: compile(m[1], false),
    constraints: compile(fs.readFileSync(path.join(hooks, 'letta-memory-constraints.cjs'), 'utf8'), true),
  };
  programs.set(repo, p);
  return p;
}

/** `for file in $(...)`: bash word splitting of a command's output. */
const words = (s) => s.split(/[ \t\n]+/).filter(Boolean);

async function judge(req) {
  process.chdir(req.repo);
  git(['update-ref', 'HEAD', req.parent]);
  git(['read-tree', req.tree]);
  const env = { ...process.env, ...(req.env || {}) };
  const prog = programsOf(req.repo);
  // memory_layout_policy=$(cat "$(git rev-parse --git-common-dir)/letta-memory-layout-policy" 2>/dev/null || true)
  let policy = '';
  try {
    policy = fs.readFileSync(path.resolve(git(['rev-parse', '--git-common-dir']).trim(), 'letta-memory-layout-policy'), 'utf8').replace(/\n+$/, '');
  } catch {}
  const has = (spec) => gitOk(['cat-file', '-e', spec]);
  let errors = '';
  let output = '';
  const runFrontmatter = async (format, files) => {
    // validate_memory_files: [ "$1" = "legacy" ] && [ "${#memory_files[@]}" -eq 0 ] && return
    if (format === 'legacy' && files.length === 0) return undefined;
    const res = await runProgram(prog.frontmatter, [format, policy, ...files], env);
    // result=$(run_memory_node - ...) || exit $?
    if (res.code !== 0) return res;
    if (res.out.replace(/\n+$/, '')) errors += '\n' + res.out.replace(/\n+$/, '');
    return undefined;
  };
  const constraints = async () => {
    // validate_memory_constraints
    if ((policy === 'root-marker' && (has(':MEMORY.md') || has('HEAD:MEMORY.md'))) || has(':.memfs.config.json') || has('HEAD:.memfs.config.json')) {
      return runProgram(prog.constraints, [], env);
    }
    return { code: 0, out: '' };
  };
  const finish = (r) => ({ id: req.id, ok: r.code === 0, output: (output + r.out).trim() });
  let v2 = false;
  if (policy === 'shared-memory') v2 = true;
  else if (policy === 'root-marker' && (has(':MEMORY.md') || has('HEAD:MEMORY.md'))) v2 = true;
  if (v2) {
    for (const file of words(git(['diff', '--cached', '--name-only', '--diff-filter=ACMR'])).filter((f) => /^skills\/[^/]+\.md$/.test(f))) {
      errors += `\n  ${file}: invalid skill path (skills must be folders). Use skills/<name>/SKILL.md`;
    }
    const failed = await runFrontmatter('memfs-v2', []);
    if (failed) return finish(failed);
    if (errors) return finish({ code: 1, out: `Memory validation failed:\n${errors}` });
    return finish(await constraints());
  }
  for (const file of words(git(['diff', '--cached', '--name-only', '--diff-filter=ACMR'])).filter((f) => /^(memory\/)?skills\/[^/]+\.md$/.test(f))) {
    errors += `\n  ${file}: invalid skill path (skills must be folders). Use skills/<name>/SKILL.md`;
  }
  const files = words(git(['diff', '--cached', '--name-only', '--diff-filter=ACM'])).filter((f) => /^(memory\/)?(system|reference)\/.*\.md$/.test(f));
  const failed = await runFrontmatter('legacy', files);
  if (failed) return finish(failed);
  if (errors) return finish({ code: 1, out: `Frontmatter validation failed:\n${errors}` });
  return finish(await constraints());
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    let res;
    try {
      res = await judge(req);
    } catch (e) {
      res = { id: req.id, error: String(e && e.stack || e) };
    }
    process.stdout.write(JSON.stringify(res) + '\n');
  }
}
main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(2);
});
