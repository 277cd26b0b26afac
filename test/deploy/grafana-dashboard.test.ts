/**
 * deploy/grafana-dashboard.json: checked against Grafana's own published dashboard schema (@grafana/schema's
 * `Dashboard` type, generated from Grafana's CUE schema: the JSON is type-checked as an object literal with
 * `satisfies Dashboard`, so a misspelt field or a wrong type fails), and every PromQL expression names only metrics
 * that `watch` and `serve` of the bundle really export (scraped from running processes).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, declaredNames } from '../helpers/daemon.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const DASHBOARD = path.join(ROOT, 'deploy', 'grafana-dashboard.json');

/** tsc's errors for the JSON as a `Dashboard` literal. The file sits under node_modules so '@grafana/schema' resolves. */
function schemaErrors(json: string): string[] {
  const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.lmh-dashboard-check-'));
  try {
    const file = path.join(dir, 'check.ts');
    fs.writeFileSync(file, `import type { Dashboard } from '@grafana/schema';\nexport const dashboard = ${json.trim()} satisfies Dashboard;\n`);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Target {
  expr?: string;
}
interface PanelJson {
  type: string;
  targets?: Target[];
  panels?: PanelJson[];
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads: identifiers outside label matchers, ranges, strings and groupings, not called. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const out: string[] = [];
  // Not inside a number or duration (0.95, 5m) nor a Grafana variable ($__rate_interval).
  for (const m of bare.matchAll(/(?<![\w$.])[a-zA-Z_:][\w:]*/g)) {
    const rest = bare.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(rest) || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    out.push(m[0]);
  }
  return out;
}

const exprsOf = (panels: PanelJson[]): string[] => panels.flatMap((p) => [...(p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])), ...exprsOf(p.panels ?? [])]);

describe('deploy/grafana-dashboard.json', () => {
  const text = fs.readFileSync(DASHBOARD, 'utf8');
  const dashboard = JSON.parse(text) as { panels: PanelJson[]; templating: { list: { query?: unknown }[] } };
  let tmp: string;
  const exported = new Set<string>();
  const daemons: Daemon[] = [];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lmh-dash-'));
    fs.mkdirSync(path.join(tmp, 'memfs'));
    const env = { HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'xdg'), LETTA_MEMFS_WEBHOOK_SECRET: 'dash-secret-1234', LETTA_MEMFS_SERVICE_SECRET: 'a'.repeat(32) };
    const watch = Daemon.start(['watch', '--memfs-root', path.join(tmp, 'memfs'), '--port', '0'], env, tmp);
    const serve = Daemon.start(['serve', '--memfs-root', path.join(tmp, 'memfs'), '--letta-url', 'http://127.0.0.1:9', '--port', '0', '--metrics-port', '0'], env, tmp);
    daemons.push(watch, serve);
    const watchBase = await watch.waitFor(/webhooks on (http:\/\/[^/\s]+)\/webhook/);
    const serveBase = await serve.waitFor(/metrics on (http:\/\/[^/\s]+)\/metrics/);
    for (const base of [watchBase, serveBase]) for (const n of declaredNames(await (await fetch(`${base}/metrics`)).text())) exported.add(n);
  }, 60_000);

  afterAll(async () => {
    for (const d of daemons) expect(await d.stop()).toBe(0);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("type-checks as Grafana's published Dashboard schema (@grafana/schema)", () => {
    expect(schemaErrors(text)).toEqual([]);
  }, 60_000);

  it('the schema check fails a dashboard with a misspelt field or a wrong type', () => {
    const wrongType = JSON.parse(text) as Record<string, any>;
    wrongType.panels[1].gridPos.w = 'wide';
    expect(schemaErrors(JSON.stringify(wrongType)).join('\n')).toMatch(/'string' is not assignable to type 'number'/);
    const misspelt = JSON.parse(text) as Record<string, any>;
    misspelt.refreshh = '30s';
    expect(schemaErrors(JSON.stringify(misspelt)).join('\n')).toMatch(/'"refreshh"' does not exist in type 'Dashboard'/);
  }, 60_000);

  it('every query names only metrics the daemons export, and every lmh_ metric has a panel', () => {
    const exprs = [...exprsOf(dashboard.panels), ...dashboard.templating.list.flatMap((v) => (typeof v.query === 'string' && v.query.startsWith('label_values(') ? [v.query] : []))];
    const used = new Set(exprs.flatMap((e) => metricNames(e.replace(/^label_values\((\w+),.*$/, '$1'))));
    expect(exprs.length).toBeGreaterThan(15);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    const lmh = [...exported].filter((n) => n.startsWith('lmh_') && !/_(sum|count)$/.test(n) && !(exported.has(`${n}_bucket`)));
    expect(lmh.filter((n) => !used.has(n) && !used.has(`${n}_bucket`))).toEqual([]);
  });

  it('the name parser reads names, not functions, labels, ranges or variables', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(lmh_x_bucket{job=~"$job", a="b c"}[$__rate_interval])))')).toEqual(['lmh_x_bucket']);
    expect(metricNames('sum(a_total) / ignoring(x) b_total offset 5m')).toEqual(['a_total', 'b_total']);
  });
});

describe('compose files: scrape-ready', () => {
  it.each(['deploy/docker-compose.yml', 'deploy/stock/docker-compose.yml'])('%s: every watch and serve exports /metrics, and its prometheus.yml scrapes each', (rel) => {
    type Service = { command?: string[]; labels?: Record<string, string>; volumes?: string[]; profiles?: string[] };
    const compose = YAML.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8')) as { services: Record<string, Service> };
    const prom = compose.services.prometheus;
    expect(prom.profiles).toEqual(['metrics']);
    const mount = prom.volumes!.find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'))!;
    const scrape = YAML.parse(fs.readFileSync(path.join(ROOT, path.dirname(rel), mount.split(':')[0]), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    const daemons = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'watch' || s.command?.[0] === 'serve');
    expect(daemons.length).toBeGreaterThan(0);
    for (const [name, s] of daemons) {
      const cmd = s.command!;
      const port = cmd[cmd.indexOf('--metrics-port') + 1];
      expect(cmd, name).toContain('--metrics-port');
      expect(cmd[cmd.indexOf('--metrics-host') + 1], name).toBe('0.0.0.0');
      expect(s.labels, name).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': port, 'prometheus.io/path': '/metrics' });
      expect(targets, name).toContain(`${name}:${port}`);
    }
    expect(targets.length).toBe(daemons.length);
  });
});
