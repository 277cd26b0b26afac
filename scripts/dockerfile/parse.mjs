// Dockerfile and .dockerignore reading for scripts/dockerfile/build.mjs: just what a build of deploy/Dockerfile needs
// (stages, FROM/WORKDIR/ARG/ENV/COPY/RUN/USER/ENTRYPOINT/CMD), following the Dockerfile reference
// (docs.docker.com/reference/dockerfile) and moby's patternmatcher for ignore files.

/** Instructions of every stage, continuation lines joined, comments and parser directives dropped. */
export function parseDockerfile(text) {
  const lines = text.split('\n');
  const stages = [];
  let buf = '';
  let startLine = 0;
  const flush = () => {
    const body = buf.trim();
    buf = '';
    if (!body) return;
    const m = /^(\S+)\s*(.*)$/s.exec(body);
    const op = m[1].toUpperCase();
    const rest = m[2].trim();
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!f) throw new Error(`line ${startLine}: FROM ${rest}: not understood`);
      stages.push({ image: f[1], name: f[2], index: stages.length, instructions: [] });
      return;
    }
    if (!stages.length) {
      if (op === 'ARG') return; // ARGs before the first FROM only parameterise FROM lines
      throw new Error(`line ${startLine}: ${op} before the first FROM`);
    }
    stages.at(-1).instructions.push({ op, rest, line: startLine });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!buf && /^\s*(#.*)?$/.test(line)) continue;
    if (buf && /^\s*#/.test(line)) continue; // comment lines inside a continued instruction are removed
    if (!buf) startLine = i + 1;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, ' ');
      continue;
    }
    buf += line;
    flush();
  }
  flush();
  return stages;
}

/** `["a", "b"]` (exec form) or a shell-form string; flags like `--from=x` split off. */
export function splitArgs(rest) {
  const flags = {};
  let s = rest;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(s);
    if (!m) break;
    flags[m[1]] = m[2] ?? 'true';
    s = s.slice(m[0].length);
  }
  if (s.startsWith('[')) return { flags, exec: JSON.parse(s) };
  return { flags, shell: s, words: s.split(/\s+/).filter(Boolean) };
}

/** One ignore-file line as moby reads it: trimmed, cleaned, a leading `/` dropped, `!` marking an exception. */
function compilePattern(raw) {
  let p = raw.trim();
  const exclusion = p.startsWith('!');
  if (exclusion) p = p.slice(1).trim();
  p = p.replace(/^\/+/, '').replace(/\/+$/, '').replace(/\/\.\//g, '/');
  if (p === '') return undefined;
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*' && p[i + 1] === '*') {
      // `**` matches any number of directories, including none
      i++;
      if (p[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = p.indexOf(']', i);
      re += p.slice(i, end + 1).replace(/^\[!/, '[^');
      i = end;
    } else if (c === '\\') re += `\\${p[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return { exclusion, re: new RegExp(`^${re}$`) };
}

export function parseIgnore(text) {
  return text.split('\n').filter((l) => !/^\s*#/.test(l)).map(compilePattern).filter(Boolean);
}

/**
 * Whether the build context leaves out `rel` (a slash-separated path from the context root): the last pattern
 * that matches the path or one of its parent directories decides (moby patternmatcher MatchesOrParentMatches).
 */
export function isIgnored(patterns, rel) {
  const parts = rel.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (prefixes.some((x) => p.re.test(x))) ignored = !p.exclusion;
  }
  return ignored;
}

/** Glob in a COPY source (`*`, `?`, `[...]` within one path segment, as Go's filepath.Match). */
export function globToRegExp(glob) {
  return compilePattern(glob).re;
}
