// A measuring helper for benchmarks: time a linked clone and a snapshot of a volume filled with
// data (not sparse), on any driver. The caller owns the pool; everything made here is deleted.
import type { HostExec } from '../../../host/exec.js';
import type { StorageDriver } from '../types.js';
import { fillVolume } from './volume-data.js';

/** Milliseconds of each step for one volume size. */
export interface CloneTiming {
  sizeBytes: number;
  fillMs: number;
  linkedCloneMs: number;
  snapshotMs: number;
  /** Only when asked for (it copies the data on pools without reflinks). */
  fullCloneMs?: number;
}

const since = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

/** Create `name`, fill it, flush it to disk, then time a linked clone, a snapshot (and a full clone). */
export async function timeCloneAndSnapshot(dr: StorageDriver, exec: HostExec, name: string, sizeBytes: number, full = false): Promise<CloneTiming> {
  await dr.createVolume({ name, kind: 'block', sizeBytes });
  const made: string[] = [name];
  try {
    let t0 = performance.now();
    const loc = await dr.volumePath(name);
    await fillVolume(exec, loc, sizeBytes);
    await exec.run(['sync', '-f', loc.path]); // dirty page cache would otherwise be flushed inside the first clone
    const fillMs = since(t0);
    t0 = performance.now();
    await dr.cloneVolume(name, `${name}-l`, { mode: 'linked' });
    made.push(`${name}-l`);
    const linkedCloneMs = since(t0);
    t0 = performance.now();
    await dr.createSnapshot(name, 'bench');
    const snapshotMs = since(t0);
    const out: CloneTiming = { sizeBytes, fillMs, linkedCloneMs, snapshotMs };
    if (full) {
      t0 = performance.now();
      await dr.cloneVolume(name, `${name}-f`, { mode: 'full' });
      made.push(`${name}-f`);
      out.fullCloneMs = since(t0);
    }
    return out;
  } finally {
    for (const v of made.reverse()) await dr.deleteVolume(v).catch(() => {});
  }
}
