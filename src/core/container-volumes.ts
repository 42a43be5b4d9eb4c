// Filesystem volumes in containers: bind-mounted read-write at a path the user chooses, their
// files owned by the container's id range (shifted when attached, from the range of the
// container that had them before).
import { posix } from 'node:path';
import { CONTAINER_SEED_DIR, shiftTree } from '../drivers/compute/runc/rootfs/index.js';
import { invalid } from '../lib/errors.js';
import type { InstanceRecord } from './instance-record.js';
import type { StorageService } from './storage-service.js';

/** Trees a volume may not be mounted on or in: the kernel's and the init's own, and nimbo's seed. */
const RESERVED = ['/proc', '/sys', '/dev', '/run', posix.dirname(CONTAINER_SEED_DIR)];

/** Validate a container mount point (absolute, normalized, not / or a reserved tree, not taken); returns it normalized. Pure. */
export function checkMountPath(path: string, taken: (string | undefined)[]): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.length > 1024) throw invalid(`mount path "${path}" must be an absolute path`);
  if (path.split('/').some((part) => part === '..' || part === '.')) throw invalid(`mount path "${path}" must not contain . or .. components`);
  const p = posix.normalize(path).replace(/\/+$/, '');
  if (p === '') throw invalid('a volume cannot be mounted at /: it is the container root');
  const bad = RESERVED.find((r) => p === r || p.startsWith(`${r}/`));
  if (bad) throw invalid(`mount path ${p} is inside ${bad}, which the container's init or nimbo owns`);
  if (p === '/tmp') throw invalid('mount path /tmp is a fresh tmpfs in every system container: mount the volume below it or elsewhere');
  if (taken.includes(p)) throw invalid(`another volume is already mounted at ${p}`);
  return p;
}

/** The bind mounts of a container's attached filesystem volumes, in attach order. */
export async function containerVolumeMounts(rec: InstanceRecord, storage: StorageService): Promise<{ source: string; destination: string; readonly: boolean }[]> {
  const out = [];
  for (const v of rec.volumes ?? []) {
    if (!v.path) continue;
    const loc = await (await storage.driver(v.pool)).volumePath(v.volume);
    out.push({ source: loc.path, destination: v.path, readonly: false });
  }
  return out;
}

/** Give a filesystem volume's files to a container's id range (from `fromHostId`'s range when another container had it). */
export async function shiftVolume(dir: string, hostId: number, size: number, fromHostId?: number): Promise<number> {
  const from = fromHostId !== undefined && fromHostId !== hostId ? { hostId: fromHostId, size } : undefined;
  return shiftTree(dir, { hostId, size }, from);
}
