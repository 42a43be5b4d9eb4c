// Verify: read every chunk the chosen snapshots reference (each distinct chunk once), decode it (authentication
// when encrypted) and recompute its digest; report corrupt and missing chunks with the backups they break, and
// record the result in each snapshot's verify.json.
import type { ChunkCodec } from './codec.js';
import type { Datastore } from './datastore.js';
import { indexDigests } from './index-format.js';
import type { BackupManifest } from './manifest.js';
import { runBounded } from './pool.js';

/** Options of a verify: which snapshots (default all), progress in chunks. */
export interface VerifyOptions {
  /** Backup ids to verify (default: every snapshot). */
  snapshots?: string[];
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
  concurrency?: number;
}

/** A backup that a bad chunk breaks, with the archives affected. */
export interface BrokenBackup {
  id: string;
  project: string;
  instance: string;
  archives: string[];
}

/** Result of a verify. */
export interface VerifyReport {
  snapshots: number;
  chunksChecked: number;
  corrupt: string[];
  missing: string[];
  broken: BrokenBackup[];
  /** Snapshots whose index could not be read (damaged index files). */
  unreadable: { id: string; error: string }[];
}

/** Verify chunks of the store's snapshots; writes verify.json {time, ok} into each checked snapshot. */
export async function verifyDatastore(ds: Datastore, codec: ChunkCodec, opts: VerifyOptions = {}): Promise<VerifyReport> {
  let snaps = await ds.listSnapshots();
  if (opts.snapshots) {
    const want = new Set(opts.snapshots);
    snaps = snaps.filter((s) => want.has(s.id));
  }
  // digest -> the (snapshot index, archive) pairs that use it
  const users = new Map<string, [number, string][]>();
  const unreadable: VerifyReport['unreadable'] = [];
  const bad = new Set<number>();
  for (let i = 0; i < snaps.length; i++) {
    const m = snaps[i]!;
    for (const a of m.archives) {
      try {
        for (const d of indexDigests(await ds.readArchiveIndex(m, a.name))) {
          let u = users.get(d);
          if (!u) users.set(d, (u = []));
          u.push([i, a.name]);
        }
      } catch (e) {
        unreadable.push({ id: m.id, error: `${a.name}: ${(e as Error).message}` });
        bad.add(i);
      }
    }
  }
  const digests = [...users.keys()].sort();
  const corrupt: string[] = [];
  const missing: string[] = [];
  let done = 0;
  await runBounded(digests.length, opts.concurrency ?? 3, async (k) => {
    const d = digests[k]!;
    let blob: Buffer | null = null;
    try {
      blob = await ds.readChunk(d);
    } catch (e) {
      if ((e as { detail?: { missing?: boolean } }).detail?.missing) missing.push(d);
      else corrupt.push(d);
    }
    if (blob) {
      try {
        if (codec.digest(await codec.decode(blob)) !== d) corrupt.push(d);
      } catch {
        corrupt.push(d);
      }
    }
    opts.onProgress?.(++done, digests.length);
  }, opts.signal);

  const brokenArchives = new Map<number, Set<string>>();
  for (const d of [...corrupt, ...missing]) {
    for (const [i, a] of users.get(d)!) {
      bad.add(i);
      let s = brokenArchives.get(i);
      if (!s) brokenArchives.set(i, (s = new Set()));
      s.add(a);
    }
  }
  const time = new Date().toISOString();
  for (let i = 0; i < snaps.length; i++) {
    const m = snaps[i]!;
    await ds.writeVerifyState(m.project, m.instance.uuid, m.id, { time, ok: !bad.has(i) });
  }
  const broken = [...brokenArchives.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, s]) => brokenOf(snaps[i]!, [...s].sort()));
  return { snapshots: snaps.length, chunksChecked: digests.length, corrupt: corrupt.sort(), missing: missing.sort(), broken, unreadable };
}

function brokenOf(m: BackupManifest, archives: string[]): BrokenBackup {
  return { id: m.id, project: m.project, instance: m.instance.name, archives };
}
