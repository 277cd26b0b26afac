/**
 * deploy/k8s/: the Kubernetes manifests, parsed and checked field by field (no cluster or kubeconform here): two
 * replicas of watch and of serve sharing Letta's Redis (their lease needs it), Services that select those pods on
 * the ports the containers listen on, probes on /healthz, secrets from a Secret only, Letta's memfs volume mounted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = path.join(ROOT, 'deploy/k8s');

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; spec: any };
const docs: Doc[] = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(DIR, f), 'utf8')).map((d) => {
      expect(d.errors, f).toEqual([]);
      return d.toJS() as Doc;
    }),
  );
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);

describe.each([
  ['letta-memfs-serve', 'serve', 8285],
  ['letta-memfs-watch', 'watch', 8284],
])('deploy/k8s %s', (name, command, port) => {
  const dep = find('Deployment', name)!;
  const container = dep?.spec.template.spec.containers[0];

  it('a Deployment of two replicas running the command on Letta\'s memfs volume', () => {
    expect(dep.apiVersion).toBe('apps/v1');
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': name }));
    expect(dep.spec.template.metadata.labels).toEqual(expect.objectContaining(dep.spec.selector.matchLabels));
    expect(container.args[0]).toBe(command);
    expect(container.args).toEqual(expect.arrayContaining(['--memfs-root', '/memfs', '--host', '0.0.0.0', '--port', String(port)]));
    expect(container.image).not.toMatch(/^node:|npx/);
    const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/memfs');
    const volume = dep.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    expect(volume.persistentVolumeClaim.claimName).toBe('letta-memfs');
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it('replicas share Letta\'s Redis (the lease); secrets come from a Secret, never a literal value', () => {
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e]));
    expect(env.LETTA_REDIS_HOST.value).toBeTruthy();
    expect(env.LETTA_REDIS_PORT.value).toMatch(/^\d+$/);
    expect(env.LETTA_MEMFS_SERVER_MODE.value).toBe('stock');
    for (const secret of ['LETTA_MEMFS_GIT_TOKEN', 'LETTA_SERVER_PASSWORD', 'LETTA_MEMFS_SERVICE_SECRET', 'LETTA_MEMFS_WEBHOOK_SECRET']) {
      if (!env[secret]) continue;
      expect(env[secret].value, secret).toBeUndefined();
      expect(env[secret].valueFrom.secretKeyRef.name, secret).toBe('letta-memfs-hooks');
    }
    // serve needs its path secret; watch its webhook key (without it the endpoint, and /healthz, stay off).
    expect(env[command === 'serve' ? 'LETTA_MEMFS_SERVICE_SECRET' : 'LETTA_MEMFS_WEBHOOK_SECRET']).toBeDefined();
  });

  it('readiness and liveness probes GET /healthz on the port the container listens on', () => {
    const named = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.path).toBe('/healthz');
      expect(named[probe.httpGet.port] ?? probe.httpGet.port).toBe(port);
    }
  });

  it('a ClusterIP Service selecting those pods onto that port, and a disruption budget keeping one up', () => {
    const svc = find('Service', name)!;
    expect(svc.spec.type).toBe('ClusterIP');
    expect(dep.spec.template.metadata.labels).toEqual(expect.objectContaining(svc.spec.selector));
    const named = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(svc.spec.ports.map((p: { targetPort: string | number }) => named[p.targetPort] ?? p.targetPort)).toEqual([port]);
    const pdb = find('PodDisruptionBudget', name)!;
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
  });
});
