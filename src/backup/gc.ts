// Garbage collection by mark and sweep. Mark: every digest of every committed snapshot's indexes, plus every digest
// claimed by a running backup. Sweep: unlink chunk files that are unmarked and older than the GC start minus a grace;
// right before each unlink the writer registry is checked synchronously (see writer-registry.ts for the handshake).
import { stat, unlink } from 'node:fs/promises';
import type { Datastore } from './datastore.js';
import { errCode } from './fs-durable.js';
import { indexDigests } from './index-format.js';
import type { WriterRegistry } from './writer-registry.js';

export { BackupWriter, WriterRegistry } from './writer-registry.js';

/** Options of a GC run. */
export interface GcOptions {
  /** Chunks modified (written or touched) less than this long before the GC started are kept (default 5 min). */
  graceMs?: number;
  /** Count what would go, remove nothing. */
  dryRun?: boolean;
  onProgress?(checked: number): void;
  signal?: AbortSignal;
}

/** What a GC found and did. */
export interface GcReport {
  chunks: number;
  removed: number;
  removedBytes: number;
  kept: number;
  keptBytes: number;
  /** Chunks referenced by an index (mark phase). */
  marked: number;
}

/** Collect the digests referenced by every committed snapshot (a damaged index aborts: never sweep on a guess). */
export async function markReferenced(ds: Datastore): Promise<Set<string>> {
  const marked = new Set<string>();
  for (const m of await ds.listSnapshots()) {
    for (const a of m.archives) for (const d of indexDigests(await ds.readArchiveIndex(m, a.name))) marked.add(d);
  }
  return marked;
}

/** Remove the chunks no snapshot and no running backup references. */
export async function garbageCollect(ds: Datastore, writers: WriterRegistry, opts: GcOptions = {}): Promise<GcReport> {
  const start = Date.now();
  const cutoff = start - (opts.graceMs ?? 5 * 60_000);
  const report: GcReport = { chunks: 0, removed: 0, removedBytes: 0, kept: 0, keptBytes: 0, marked: 0 };
  writers.gcBegin();
  try {
    const marked = await markReferenced(ds);
    report.marked = marked.size;
    for await (const d of ds.chunkDigests()) {
      if (opts.signal?.aborted) break;
      const st = await stat(ds.chunkPath(d)).catch(() => null);
      if (!st) continue;
      report.chunks++;
      opts.onProgress?.(report.chunks);
      // Synchronous from here to the registration in `deleting`: no writer can claim in between.
      if (marked.has(d) || st.mtimeMs >= cutoff || writers.has(d)) {
        report.kept++;
        report.keptBytes += st.size;
        continue;
      }
      report.removed++;
      report.removedBytes += st.size;
      if (opts.dryRun) continue;
      const gone = unlink(ds.chunkPath(d)).catch((e) => (errCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
      writers.deleting.set(d, gone.catch(() => undefined));
      try {
        await gone;
      } finally {
        writers.deleting.delete(d);
      }
    }
  } finally {
    writers.gcEnd();
  }
  return report;
}
