/**
 * scripts/dockerfile/build.mjs, the engine-less build .ci/run runs on deploy/Dockerfile: it must take exactly what the
 * dockerignore lets in (so a file the build needs but the context leaves out fails the build, as in an engine), run
 * RUN steps inside the stage's root, and require the final CMD to answer /healthz.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { isIgnored, parseDockerfile, parseIgnore } from '../../scripts/dockerfile/parse.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = path.join(ROOT, 'scripts', 'dockerfile', 'build.mjs');
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function context(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-df-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}
const build = (dir: string) => spawnSync(process.execPath, [BUILD, '--context', dir, path.join(dir, 'Dockerfile')], { encoding: 'utf8' });

describe('dockerignore matching (moby patternmatcher rules)', () => {
  const p = parseIgnore('*\n!src/\n!scripts/a.mjs\nsrc/**/*.secret\n# comment\n');
  it.each([
    ['README.md', true],
    ['src', false],
    ['src/x/y.ts', false],
    ['src/x/y.secret', true],
    ['scripts/a.mjs', false],
    ['scripts/b.mjs', true],
  ])('%s ignored: %s', (rel, ignored) => expect(isIgnored(p, rel)).toBe(ignored));
});

describe('build.mjs', () => {
  const dockerfile = (copy: string) => `FROM node:20 AS build\nWORKDIR /src\n${copy}\nRUN node a.mjs > /out.txt\n\nFROM node:20\nCOPY --from=build /out.txt /srv/out.txt\nRUN test "$(cat /srv/out.txt)" = made-by-b\n`;
  const files = { 'a.mjs': "import './b.mjs';\n", 'b.mjs': "console.log('made-by-b');\n" };

  it('fails the RUN step when the dockerignore leaves out a file the build imports, naming the line', () => {
    const dir = context({ ...files, Dockerfile: dockerfile('COPY a.mjs b.mjs ./'), 'Dockerfile.dockerignore': '*\n!a.mjs\n' });
    const r = build(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAILED: .*Dockerfile:3: COPY a\.mjs b\.mjs \.\/: b\.mjs: not found in the build context/);
  });

  it('fails when a COPY leaves out a file a RUN needs', () => {
    const dir = context({ ...files, Dockerfile: dockerfile('COPY a.mjs ./'), 'Dockerfile.dockerignore': '*\n!a.mjs\n!b.mjs\n' });
    const r = build(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAILED: .*Dockerfile:4: RUN node a\.mjs/);
  });

  it('builds every stage when the files are let in, with absolute paths kept inside the stage roots', () => {
    const dir = context({ ...files, Dockerfile: dockerfile('COPY a.mjs b.mjs ./'), 'Dockerfile.dockerignore': '*\n!a.mjs\n!b.mjs\n' });
    const r = build(dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.existsSync('/out.txt') && fs.readFileSync('/out.txt', 'utf8') === 'made-by-b\n').toBe(false);
  });

  it('fails when the CMD exits instead of serving /healthz', () => {
    const df = 'FROM node:20\nCMD ["node", "-e", "process.exit(3)", "--", "--port", "1"]\n';
    const r = build(context({ Dockerfile: df }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CMD node -e .*: exited \(3\) instead of serving/);
  });
});

describe('deploy/ Dockerfiles', () => {
  it('every COPY source of every stage exists and its dockerignore lets it in', () => {
    const dockerfiles = fs.readdirSync(path.join(ROOT, 'deploy')).filter((f) => /^Dockerfile(\.[\w-]+)?$/.test(f) && !f.endsWith('.dockerignore'));
    expect(dockerfiles).toContain('Dockerfile');
    for (const f of dockerfiles) {
      const ignore = parseIgnore(fs.readFileSync(path.join(ROOT, 'deploy', `${f}.dockerignore`), 'utf8'));
      for (const stage of parseDockerfile(fs.readFileSync(path.join(ROOT, 'deploy', f), 'utf8'))) {
        for (const ins of stage.instructions.filter((i: { op: string; rest: string }) => i.op === 'COPY' && !i.rest.startsWith('--from'))) {
          for (const src of ins.rest.split(/\s+/).slice(0, -1)) {
            expect(fs.existsSync(path.join(ROOT, src)), `${f}: ${src}`).toBe(true);
            expect(isIgnored(ignore, src.replace(/\/$/, '')), `${f}: ${src} left out of the context`).toBe(false);
          }
        }
      }
    }
  });
});
