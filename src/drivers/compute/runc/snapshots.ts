// Container snapshots: pool snapshots (one name) of the root filesystem volume and then every
// attached volume, taken through core's storage (VolumeSnapshotPort). A running container is
// frozen meanwhile so the volumes agree with each other; containers have no stateful snapshots.
import { conflict, invalid, NimboError } from '../../../lib/errors.js';
import type { InstanceSpec, PowerState, SnapshotData, VolumeSnapshotPort } from '../instance-driver.js';

/** What snapshots need of the driver: the live state, the freezer, and the root unmount. */
export interface SnapshotHost {
  state(spec: InstanceSpec): PowerState;
  pause(spec: InstanceSpec): Promise<void>;
  resume(spec: InstanceSpec): Promise<void>;
  unmountRoot(path: string): Promise<void>;
}

type VolumeRef = { pool: string; volume: string; path: string };

/** The pool volumes of a container, root first. */
function volumesOf(spec: InstanceSpec): VolumeRef[] {
  return [spec.root, ...spec.volumes].map((v) => ({ pool: v.pool, volume: v.volume, path: v.path }));
}

/**
 * Snapshot every volume of the container under `name`. A running container is paused (cgroup
 * freezer) meanwhile and resumed after; one already paused stays paused. A failure removes the
 * snapshots already taken and is thrown.
 */
export async function takeSnapshot(
  host: SnapshotHost, spec: InstanceSpec, req: { name: string; stateful: boolean }, vols: VolumeSnapshotPort, progress: (pct: number, msg: string) => void = () => undefined,
): Promise<SnapshotData> {
  if (req.stateful) throw invalid(`${spec.name} is a container: containers have no stateful snapshots (saving processes would need CRIU); take a disk-only snapshot`);
  const volumes = volumesOf(spec);
  const data: SnapshotData = { stateful: false, disks: [], volumes: volumes.map((v) => ({ pool: v.pool, volume: v.volume })) };
  const taken: VolumeRef[] = [];
  const pause = host.state(spec) === 'running';
  if (pause) {
    progress(10, 'pausing the container');
    await host.pause(spec);
  }
  try {
    for (const [i, v] of volumes.entries()) {
      progress(20 + Math.floor((60 * i) / volumes.length), `snapshotting ${v.pool}/${v.volume}`);
      await vols.create(v.pool, v.volume, req.name);
      taken.push(v);
      data.disks.push({ id: i === 0 ? 'root' : `${v.pool}/${v.volume}`, path: v.path });
    }
  } catch (e) {
    for (const v of taken) await vols.remove(v.pool, v.volume, req.name).catch(() => undefined);
    throw e;
  } finally {
    if (pause) await host.resume(spec);
  }
  return data;
}

/** The volumes a snapshot covers (recorded; older records: from its disk ids and the spec's root). */
function coveredBy(spec: InstanceSpec, data: SnapshotData): { pool: string; volume: string }[] {
  if (data.volumes) return data.volumes;
  return data.disks.map((d) => {
    if (d.id === 'root') return { pool: spec.root.pool, volume: spec.root.volume };
    const [pool, ...rest] = d.id.split('/');
    return { pool: pool!, volume: rest.join('/') };
  });
}

/** Roll every volume back to snapshot `name`; the container must be stopped (its root is unmounted first). */
export async function restoreSnapshot(host: SnapshotHost, spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
  if (host.state(spec) !== 'stopped') throw conflict(`container ${spec.name} is running: stop it to restore a snapshot`);
  for (const v of coveredBy(spec, data)) {
    // A stopped container's overlay root stays mounted; its next start mounts the restored one.
    if (v.pool === spec.root.pool && v.volume === spec.root.volume) await host.unmountRoot(spec.root.path);
    await vols.restore(v.pool, v.volume, name);
  }
}

/** Delete snapshot `name` of every volume it covers (already gone: fine). */
export async function deleteSnapshot(spec: InstanceSpec, name: string, data: SnapshotData, vols: VolumeSnapshotPort): Promise<void> {
  for (const v of coveredBy(spec, data)) {
    await vols.remove(v.pool, v.volume, name).catch((e: unknown) => {
      if (!(e instanceof NimboError && e.code === 'NotFound')) throw e;
    });
  }
}
