/**
 * The deployment files, checked structurally (no container runtime runs here; .ci/run also lints the Dockerfile with
 * hadolint when it can install it): nothing runs the package by registry name next to the secrets, the image is
 * built from this repository in stages and runs as Letta's uid, and the systemd unit runs a pinned install.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
/** Lines that do something: comments dropped (shell/Dockerfile/YAML/unit files all use #). */
const code = (text: string) => text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');

describe('deploy/', () => {
  it('never runs the package through npx (someone else could publish that name)', () => {
    const files = fs.readdirSync(path.join(ROOT, 'deploy'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files.map((e) => e.name)).toContain('docker-compose.yml');
    for (const e of files) {
      const rel = path.relative(ROOT, path.join(e.parentPath, e.name));
      expect(code(read(rel)), rel).not.toMatch(/\bnpx\b/);
    }
    expect(code(read('hooks/shim.sh'))).not.toMatch(/\bnpx\b/);
  });

  it('Dockerfile: multi-stage build from this repository, installing the packed tarball, as the memfs owner', () => {
    const df = code(read('deploy/Dockerfile'));
    const stages = df.match(/^FROM\s+\S+/gm) ?? [];
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/^FROM\s+\S+:\d/); // pinned base images
    expect(df).toMatch(/RUN npm ci\b/);
    expect(df).toMatch(/npm pack\b/);
    expect(df).toMatch(/^COPY --from=build \S+\.tgz /m);
    expect(df).toMatch(/npm install -g --offline [^\n]*\.tgz/);
    // Letta's image runs as root and owns the volume: uid 0 by default, overridable.
    expect(df).toMatch(/^ARG LETTA_UID=0$/m);
    const lastStage = df.slice(df.lastIndexOf('\nFROM'));
    expect(lastStage).toMatch(/^USER \$\{LETTA_UID\}:\$\{LETTA_GID\}$/m);
    expect(lastStage).toMatch(/^ENTRYPOINT \["letta-memfs-hooks"\]$/m);
    // Every COPY source exists and is let through by the build context's ignore file.
    const allowed = code(read('deploy/Dockerfile.dockerignore')).split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const m of df.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) {
        expect(fs.existsSync(path.join(ROOT, src)), src).toBe(true);
        expect(allowed, src).toContain(src.replace(/\/$/, ''));
      }
    }
  });

  it('compose builds that image; the systemd unit runs an install in its own prefix', () => {
    const compose = read('deploy/docker-compose.yml');
    const service = compose.slice(compose.indexOf('  memfs-hooks:'), compose.indexOf('\nvolumes:'));
    expect(service).toMatch(/build:\n\s+context: \.\.\n\s+dockerfile: deploy\/Dockerfile/);
    expect(service).not.toMatch(/^\s+image: node:/m);
    // Patched mode runs the derived image, built here, not the unpatched letta/letta.
    const letta = compose.slice(compose.indexOf('  letta:'), compose.indexOf('  memfs-hooks:'));
    expect(letta).toMatch(/build:\n\s+context: \.\.\n\s+dockerfile: deploy\/Dockerfile\.letta-patched/);
    expect(letta).not.toMatch(/image: letta\/letta/);
    expect(code(read('deploy/Dockerfile.letta-patched'))).toMatch(/patch-server --apply "\$SITE"[^\n]*\n[^\n]*patch-server --check/);
  });

  it.each(['letta-memfs-hooks.service', 'letta-memfs-serve.service'])('%s: runs the tarball install, on the memfs Letta writes, created before the sandbox needs it', (name) => {
    const unit = code(read(`deploy/${name}`));
    expect(unit).toMatch(/^ExecStart=\/opt\/letta-memfs-hooks\/bin\/letta-memfs-hooks (watch|serve) /m);
    // Letta 0.16.x writes ~/.letta/memfs of the user it runs as (letta, home /var/lib/letta).
    expect(unit).toMatch(/^Environment=LETTA_MEMFS_ROOT=\/var\/lib\/letta\/\.letta\/memfs$/m);
    // systemd refuses to start a unit whose ReadWritePaths= is missing, unless the path is optional (-) or made first.
    const made = [...unit.matchAll(/^ExecStartPre=\+\/usr\/bin\/install -d -o letta -g letta (.+)$/gm)].flatMap((m) => m[1].split(' '));
    for (const m of unit.matchAll(/^ReadWritePaths=(.+)$/gm)) {
      for (const p of m[1].split(' ')) expect(p.startsWith('-') || made.includes(p), p).toBe(true);
    }
  });

  it('nothing in deploy/ or patches/ names a file the package does not ship or installs the unpublished name', () => {
    const files = ['deploy', 'patches'].flatMap((d) => fs.readdirSync(path.join(ROOT, d)).map((f) => `${d}/${f}`)).filter((f) => fs.statSync(path.join(ROOT, f)).isFile());
    for (const f of files) {
      const text = read(f);
      expect(text, f).not.toMatch(/dist\/cli\//);
      expect(text, f).not.toMatch(/npm (install|i) (-g )?letta-memfs-hooks\b/);
    }
  });

  it('the daemon user units run the user-prefix install, with secrets only from a file, and stop with SIGTERM', () => {
    const unit = code(read('deploy/letta-memfs-hooks-daemon.service'));
    expect(unit).toMatch(/^ExecStart=%h\/\.local\/bin\/letta-memfs-hooks daemon$/m);
    expect(unit).toMatch(/^EnvironmentFile=-%h\/\.config\/letta-memfs-hooks\/daemon\.env$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(unit).not.toMatch(/TOKEN=|^User=/m);
    const plist = read('deploy/com.letta-memfs-hooks.daemon.plist');
    const args = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(plist)?.[1] ?? '';
    expect([...args.matchAll(/<string>([^<]*)<\/string>/g)].map((m) => m[1])).toEqual(['/Users/YOU/.local/bin/letta-memfs-hooks', 'daemon']);
    expect(plist).not.toMatch(/TOKEN/);
    // Well-formed enough for launchd: every <key> has a value, tags balance.
    for (const tag of ['dict', 'array', 'plist']) expect(plist.split(`<${tag}`).length, tag).toBe(plist.split(`</${tag}>`).length);
  });
});
