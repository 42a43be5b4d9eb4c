// Filesystem volumes of a dir pool: plain directories (filesystems/NAME) for containers. The
// size is recorded but not enforced (no quotas on a plain directory), and there are no linked
// clones. Snapshots are copies of the tree in snapshots/NAME/SNAP/ made with
// `cp -a --reflink=auto --one-file-system`: a mount inside the volume (a container's overlay
// rootfs) is not entered, only its mount point is made, so a container root's snapshot holds
// its overlay upper (its changes) and the small state file — O(size of the changes), blocks
// shared on XFS/btrfs. Restore copies a snapshot back into .tmp and swaps it in (the snapshot
// stays); it and delete/rename are refused while anything is mounted inside the volume.
import { mkdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict, invalid, notFound } from '../../../lib/errors.js';
import { exists, randomHex, treeBytes } from '../fs-util.js';
import { listDir, readFsMeta, writeFsMeta, type PoolDirs } from '../pool-layout.js';
import type { SnapshotInfo, VolumeInfo } from '../types.js';

/** Decode the octal escapes of a /proc/self/mountinfo path. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or below dir (this process's mount namespace). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const real = resolve(dir);
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => unescape(l.split(' ')[4] ?? '')).filter((m) => m === real || m.startsWith(`${real}/`));
}

/** Conflict while something is mounted inside a filesystem volume (a container runs on it, or its root is mounted). */
export async function assertNoMounts(dir: string, what: string): Promise<void> {
  const m = await mountsUnder(dir);
  if (m.length > 0) throw conflict(`${what} is in use: ${m.join(', ')} is mounted inside it (stop the container first)`);
}

/** The copy argv for a tree: archive mode, reflinks where possible, never into other mounts. */
export const treeCopyArgv = (from: string, to: string) => ['cp', '-a', '--reflink=auto', '--one-file-system', '--', `${from}/.`, to];

const COPY_TIMEOUT = 6 * 3600_000;

/** Plain-directory filesystem volumes. */
export class DirFsVolumes {
  constructor(
    private readonly exec: HostExec,
    private readonly dirs: PoolDirs,
    private readonly pool: string,
  ) {}

  /** The directory of a volume. */
  path(name: string): string {
    return join(this.dirs.filesystems, name);
  }

  private snapDir(name: string): string {
    return join(this.dirs.snapshots, name);
  }

  private snapPath(name: string, snapshot: string): string {
    return join(this.snapDir(name), snapshot);
  }

  /** Create an empty volume directory (built in .tmp, then renamed into place). */
  async create(name: string, sizeBytes: number): Promise<void> {
    const tmp = join(this.dirs.tmp, randomHex());
    await mkdir(tmp, { mode: 0o755 });
    try {
      await writeFsMeta(this.dirs, name, { sizeBytes });
      await rename(tmp, this.path(name));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      await rm(join(this.dirs.filesystems, `${name}.json`), { force: true });
      throw e;
    }
  }

  /** Delete a volume and its snapshots: it disappears at once (renamed into .tmp), then its tree is removed. */
  async delete(name: string): Promise<void> {
    await assertNoMounts(this.path(name), `volume "${name}"`);
    const trash = join(this.dirs.tmp, `del-${randomHex()}`);
    await rename(this.path(name), trash);
    await rm(join(this.dirs.filesystems, `${name}.json`), { force: true });
    await rm(trash, { recursive: true, force: true });
    await rm(this.snapDir(name), { recursive: true, force: true });
  }

  /** Record a new size (grow was checked by the caller). */
  async resize(name: string, sizeBytes: number): Promise<void> {
    await writeFsMeta(this.dirs, name, { sizeBytes });
  }

  /** Rename a volume, its record and its snapshots. */
  async rename(from: string, to: string): Promise<void> {
    await assertNoMounts(this.path(from), `volume "${from}"`);
    await rename(this.path(from), this.path(to));
    await rename(join(this.dirs.filesystems, `${from}.json`), join(this.dirs.filesystems, `${to}.json`)).catch(() => {});
    if (await exists(this.snapDir(from))) await rename(this.snapDir(from), this.snapDir(to));
  }

  /** Sizes of a volume (du of the tree, not entering mounts). */
  async info(name: string): Promise<VolumeInfo> {
    const meta = await readFsMeta(this.dirs, name);
    const snapshots = (await listDir(this.snapDir(name))).length;
    return { name, kind: 'filesystem', virtualSizeBytes: meta.sizeBytes, allocatedBytes: await treeBytes(this.exec, this.path(name)), snapshots, linked: false };
  }

  /** Copy a tree into a fresh directory in .tmp; returns it (the caller renames it into place). */
  private async copyToTmp(from: string): Promise<string> {
    const tmp = join(this.dirs.tmp, randomHex());
    await mkdir(tmp, { mode: 0o755 });
    try {
      await this.exec.run(treeCopyArgv(from, tmp), { timeoutMs: COPY_TIMEOUT });
      return tmp;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  private async snapInfo(name: string, snapshot: string): Promise<SnapshotInfo> {
    const st = await stat(this.snapPath(name, snapshot));
    const t = st.birthtimeMs > 0 ? st.birthtime : st.ctime;
    return { name: snapshot, createdAt: t.toISOString(), vmStateBytes: 0 };
  }

  /** The path of an existing snapshot, else NotFound. */
  private async requireSnapshot(name: string, snapshot: string): Promise<string> {
    const p = this.snapPath(name, snapshot);
    if (!(await exists(p))) throw notFound(`snapshot "${snapshot}" of volume "${name}"`);
    return p;
  }

  /** Copy the volume's tree into snapshots/NAME/SNAP (the caller keeps writers away, e.g. pauses the container). */
  async createSnapshot(name: string, snapshot: string): Promise<SnapshotInfo> {
    const target = this.snapPath(name, snapshot);
    if (await exists(target)) throw conflict(`volume "${name}" already has a snapshot "${snapshot}"`);
    const tmp = await this.copyToTmp(this.path(name));
    try {
      await mkdir(this.snapDir(name), { recursive: true, mode: 0o700 });
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    return this.snapInfo(name, snapshot);
  }

  /** Snapshots of a volume, oldest first. */
  async listSnapshots(name: string): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const s of await listDir(this.snapDir(name))) out.push(await this.snapInfo(name, s));
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Replace the volume's tree by a copy of the snapshot (refused while anything is mounted inside). */
  async restoreSnapshot(name: string, snapshot: string): Promise<void> {
    const snap = await this.requireSnapshot(name, snapshot);
    await assertNoMounts(this.path(name), `volume "${name}"`);
    const fresh = await this.copyToTmp(snap);
    const old = join(this.dirs.tmp, `old-${randomHex()}`);
    try {
      await rename(this.path(name), old);
    } catch (e) {
      await rm(fresh, { recursive: true, force: true });
      throw e;
    }
    await rename(fresh, this.path(name)).catch(async (e) => {
      await rename(old, this.path(name));
      await rm(fresh, { recursive: true, force: true });
      throw e;
    });
    await rm(old, { recursive: true, force: true });
  }

  /** Delete one snapshot. */
  async deleteSnapshot(name: string, snapshot: string): Promise<void> {
    const snap = await this.requireSnapshot(name, snapshot);
    const trash = join(this.dirs.tmp, `del-${randomHex()}`);
    await rename(snap, trash);
    await rm(trash, { recursive: true, force: true });
    await rmdir(this.snapDir(name)).catch(() => {});
  }

  /** A full copy of a volume's tree or of one of its snapshots (cp -a, reflinked where the filesystem can, not entering mounts). */
  async cloneFull(from: string, to: string, mode: 'linked' | 'full', fromSnapshot?: string): Promise<void> {
    if (mode === 'linked') {
      throw invalid(`pool "${this.pool}" (dir) has no linked clones of filesystem volumes: use mode full, or a btrfs pool`);
    }
    const src = fromSnapshot === undefined ? this.path(from) : await this.requireSnapshot(from, fromSnapshot);
    const tmp = await this.copyToTmp(src);
    try {
      await writeFsMeta(this.dirs, to, await readFsMeta(this.dirs, from));
      await rename(tmp, this.path(to));
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      await rm(join(this.dirs.filesystems, `${to}.json`), { force: true });
      throw e;
    }
  }
}
