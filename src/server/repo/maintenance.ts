/**
 * Pure planning of repo.git maintenance: pack loose objects, then delete what a pack made redundant, without ever
 * racing the Letta server's copies of repo.git.
 *
 * How Letta copies (letta/services/memory_repo/git_operations.py and storage/local.py @ 0.16.7): every read and
 * commit first lists every file under repo.git (`Path.rglob`, one directory after another), then opens and reads
 * each listed file into a temp dir; a commit later writes back only files whose mtime changed, never deleting.
 * So a copy is not a snapshot: a file deleted after its directory was listed makes that copy fail (FileNotFoundError,
 * retried by Letta's sync, same as for the lock and temp files git itself renames), and a copy that listed
 * objects/pack/ before a new pack appeared and objects/xx/ after its loose objects were deleted would silently
 * lack them. Hence the rules below:
 * - a new pack is a superset of every object present when it is written, and appears whole (.pack before .idx);
 * - a loose object or an old pack is deleted only when it is in a pack that has been visible for longer than the
 *   grace period (far longer than any copy's listing), so no copy can miss both;
 * - refs are never packed (`git pack-refs`, which `git gc` runs, causes the stale-ref race, facts file section 1).
 */

export interface PackInfo {
  /** `pack-<hash>` (without extension). */
  name: string;
  /** When the pack became visible: its .idx mtime (set after the rename into objects/pack). */
  visibleAtMs: number;
  /** A `.keep` file: never deleted (someone else's pack). */
  keep: boolean;
  /** Object ids in the pack; undefined when its index could not be read (then nothing relies on it). */
  objects?: ReadonlySet<string>;
}

export interface RepoObjects {
  loose: readonly string[];
  packs: readonly PackInfo[];
  /** `.pack` files without an `.idx` (a Letta copy-back can resurrect one), with their mtime. */
  orphans: readonly { file: string; mtimeMs: number }[];
}

export interface MaintenancePolicy {
  /** How long a pack must have been visible before what it makes redundant is deleted. */
  graceMs: number;
  /** Pack when at least this many loose objects are in no pack. */
  looseThreshold: number;
  /** Pack when at least this many packs are not contained in the newest one. */
  packThreshold: number;
}

export const DEFAULT_POLICY: MaintenancePolicy = { graceMs: 5 * 60_000, looseThreshold: 256, packThreshold: 8 };

export interface MaintenancePlan {
  /** Write one new pack holding every object. */
  pack: boolean;
  deletePacks: string[];
  deleteLoose: string[];
  deleteOrphans: string[];
  /** When a deferred deletion becomes due (a pack still inside its grace period makes something redundant). */
  dueAtMs?: number;
  /** Loose objects in no pack (what the loose threshold counts). */
  unpackedLoose: number;
}

const subset = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size <= b.size && [...a].every((o) => b.has(o));

export function planMaintenance(repo: RepoObjects, nowMs: number, policy: MaintenancePolicy): MaintenancePlan {
  const indexed = repo.packs.filter((p): p is PackInfo & { objects: ReadonlySet<string> } => p.objects !== undefined);
  const settled = indexed.filter((p) => p.visibleAtMs <= nowMs - policy.graceMs);
  // One settled pack is kept as the home of everything the deleted ones held: the largest, then the newest.
  const keeper = [...settled].sort((a, b) => b.objects.size - a.objects.size || b.visibleAtMs - a.visibleAtMs)[0];
  const deletePacks = keeper ? settled.filter((p) => p !== keeper && !p.keep && subset(p.objects, keeper.objects)).map((p) => p.name) : [];
  const inSettled = (oid: string) => settled.some((p) => p.objects.has(oid));
  const inAny = (oid: string) => indexed.some((p) => p.objects.has(oid));
  const deleteLoose = repo.loose.filter(inSettled);
  const unpackedLoose = repo.loose.filter((o) => !inAny(o)).length;

  const newest = [...indexed].sort((a, b) => b.visibleAtMs - a.visibleAtMs)[0];
  const livePacks = indexed.filter((p) => p === newest || !subset(p.objects, newest.objects)).length;
  const pack = unpackedLoose >= policy.looseThreshold || livePacks >= policy.packThreshold;

  // Something waits for a pack to settle: loose objects it holds, or older packs it contains.
  const waiting = indexed.filter(
    (p) => p.visibleAtMs > nowMs - policy.graceMs && (repo.loose.some((o) => p.objects.has(o) && !inSettled(o)) || indexed.some((q) => q !== p && subset(q.objects, p.objects))),
  );
  const due = waiting.map((p) => p.visibleAtMs + policy.graceMs);
  const deleteOrphans = repo.orphans.filter((o) => o.mtimeMs <= nowMs - policy.graceMs).map((o) => o.file);
  return { pack, deletePacks, deleteLoose, deleteOrphans, unpackedLoose, ...(due.length > 0 ? { dueAtMs: Math.min(...due) } : {}) };
}

export const hasDeletions = (p: MaintenancePlan) => p.deletePacks.length + p.deleteLoose.length + p.deleteOrphans.length > 0;

/**
 * Object ids from a version-2 pack index (SHA-1): magic, version, 256-entry fan-out, then the sorted names.
 * undefined for anything else, so an index we do not understand is never relied on.
 */
export function parsePackIndex(buf: Buffer): Set<string> | undefined {
  if (buf.length < 8 + 1024 + 40 || buf.readUInt32BE(0) !== 0xff744f63 || buf.readUInt32BE(4) !== 2) return undefined;
  const n = buf.readUInt32BE(8 + 255 * 4);
  const fixed = 8 + 1024 + n * 28 + 40;
  if (buf.length < fixed || (buf.length - fixed) % 8 !== 0) return undefined;
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add(buf.toString('hex', 1032 + i * 20, 1032 + (i + 1) * 20));
  return out;
}
