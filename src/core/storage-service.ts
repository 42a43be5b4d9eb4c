import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IoLimits, Pool, PoolCreate, Snapshot, Volume, VolumeClone, VolumeCreate, VolumeExport, VolumeImport } from '../shared/storage-types.js';
import type { PoolSpec, StorageDriver, VolumeFormat, VolumeInfo } from '../drivers/storage/types.js';
import { createStorageDriver } from '../drivers/storage/index.js';
import { parseInfo } from '../drivers/storage/qemu-img.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import { parseBoundedSize, validateName } from '../lib/validate.js';
import { casUpdate } from '../store/cas.js';
import { checkPoolPath, fsTypeAt, readMounts, resolvePoolPath } from './pool-paths.js';
import { DEFAULT_PROJECT, keys, lockTarget } from '../store/keys.js';
import { createHash } from 'node:crypto';

/** A pool as kept in the store. */
export interface PoolRecord extends PoolSpec {
  createdAt: string;
}

/** What nimbo keeps about a volume beside the driver's own facts: where it is attached and its I/O limits. */
export interface VolumeMeta {
  pool: string;
  name: string;
  attachedTo: string | null;
  limits: IoLimits;
  /** Filesystem volumes: the first host id of the container range its files are owned by (set when attached to a container). */
  idOwner?: number;
}

/** A pool path held while its create operation runs. */
interface PendingPool {
  name: string;
  path: string;
  op?: string;
}

export const NO_LIMITS: IoLimits = { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 };
const MiB = 1024 ** 2;
const VOLUME_SIZE = { min: MiB, max: 64 * 1024 ** 4 };
const poolKey = keys.pool;
const metaKey = keys.volumeMeta;
/** Host names of other projects' volumes (StorageService.hostVolume): never a default-project volume's name. */
export const HASHED_VOLUME = /^x[0-9a-f]{24}$/;
/** The metadata of a volume nimbo has recorded nothing about yet: detached, no limits. */
const defaultMeta = (pool: string, name: string): VolumeMeta => ({ pool, name, attachedTo: null, limits: { ...NO_LIMITS } });

/** Storage pools and volumes: records in the store, bytes through a StorageDriver per pool. */
/** The quota charge id of a project's volume (not a root: those count in their instance's charge). */
export const volumeChargeId = (project: string, pool: string, name: string) => `volume/${project}/${pool}/${name}`;

export class StorageService {
  private drivers = new Map<string, StorageDriver>();
  /** Pools whose create operation has not finished yet, and the queue that checks new paths one at a time. */
  private pending = new Set<PendingPool>();
  private pathTurn: Promise<unknown> = Promise.resolve();

  constructor(private d: BaseDeps) {}

  /** The default pool (dir, qcow2, in the state dir), created at daemon start. */
  async ensureDefault(): Promise<void> {
    if (await this.d.store.get(poolKey('default'))) return void (await this.driver('default').then((dr) => dr.initPool()));
    const rec: PoolRecord = { name: 'default', driver: 'dir', path: join(this.d.config.stateDir, 'pools', 'default'), options: { format: 'qcow2' }, createdAt: new Date().toISOString() };
    await createStorageDriver(rec, { exec: this.d.exec }).initPool();
    await this.d.store.put(poolKey('default'), rec);
  }

  async poolRecord(name: string): Promise<PoolRecord> {
    const kv = await this.d.store.get<PoolRecord>(poolKey(name));
    if (!kv) throw notFound(`storage pool ${name}`);
    return kv.value;
  }

  /** The driver handle of a pool. */
  async driver(pool: string): Promise<StorageDriver> {
    const cached = this.drivers.get(pool);
    if (cached) return cached;
    const dr = createStorageDriver(await this.poolRecord(pool), { exec: this.d.exec });
    this.drivers.set(pool, dr);
    return dr;
  }

  /** The API view of a pool with its usage. */
  async poolView(rec: PoolRecord): Promise<Pool> {
    const dr = await this.driver(rec.name);
    const [u, caps] = await Promise.all([dr.poolUsage(), dr.capabilities()]);
    return {
      name: rec.name,
      driver: rec.driver,
      path: rec.path,
      format: rec.options.format ?? caps.formats[0] ?? 'qcow2',
      size: u.sizeBytes,
      used: u.usedBytes,
      available: u.availableBytes,
      provisioned: u.provisionedBytes,
      overProvisioning: u.sizeBytes ? Math.round((u.provisionedBytes / u.sizeBytes) * 100) / 100 : 0,
      volumes: u.volumes,
      capabilities: { ...caps },
      createdAt: rec.createdAt,
    };
  }

  async pools(): Promise<PoolRecord[]> {
    return (await this.d.store.list<PoolRecord>(keys.pools)).map((k) => k.value);
  }

  /** Create a pool (an Operation); nothing is recorded if the path or the driver refuses. */
  async createPool(req: PoolCreate) {
    validateName(req.name, 'pool name');
    if (await this.d.store.get(poolKey(req.name))) throw conflict(`storage pool ${req.name} already exists`);
    // Check and reserve the path one request at a time, so two concurrent creates cannot nest their pools.
    const turn = this.pathTurn.then(() => this.reservePoolPath(req.name, req.path));
    this.pathTurn = turn.catch(() => undefined);
    const { path, slot } = await turn;
    try {
      assertReachable(path);
      const rec: PoolRecord = { name: req.name, driver: req.driver, path, options: req.format ? { format: req.format } : {}, createdAt: new Date().toISOString() };
      const op = await this.d.ops.start('storage.pool.create', `pool/${req.name}`, async () => {
        try {
          const dr = createStorageDriver(rec, { exec: this.d.exec });
          await dr.initPool();
          await this.d.store.put(poolKey(rec.name), rec, { expectRevision: 0 });
          this.drivers.set(rec.name, dr);
          return this.poolView(rec);
        } finally {
          this.pending.delete(slot);
        }
      });
      slot.op = op.id;
      return op;
    } catch (e) {
      this.pending.delete(slot);
      throw e;
    }
  }

  /**
   * The resolved path for a new pool (given, or STATE/pools/NAME), refused when it overlaps another pool (recorded,
   * or still being created) or the state dir, or lies on a pseudo-filesystem (see pool-paths.ts). Nothing is
   * created here; the path is held for the create operation.
   */
  private async reservePoolPath(name: string, given: string | undefined): Promise<{ path: string; slot: PendingPool }> {
    const ownDefault = join(this.d.config.stateDir, 'pools', name);
    const path = await resolvePoolPath(given ?? ownDefault);
    const resolveOr = (p: string) => resolvePoolPath(p).catch(() => p);
    const pools = await Promise.all((await this.pools()).map(async (p) => ({ name: p.name, path: await resolveOr(p.path) })));
    for (const slot of this.pending) {
      // An operation cancelled before it began never ran its cleanup: let its path go.
      const live = slot.op === undefined || ['pending', 'running'].includes((await this.d.ops.get(slot.op).catch(() => null))?.status ?? '');
      if (live) pools.push({ name: slot.name, path: slot.path });
      else this.pending.delete(slot);
    }
    checkPoolPath({
      name,
      path,
      fsType: fsTypeAt(await readMounts(), path),
      stateDir: await resolveOr(this.d.config.stateDir),
      defaultPath: await resolveOr(ownDefault),
      pools,
    });
    const slot: PendingPool = { name, path };
    this.pending.add(slot);
    return { path, slot };
  }

  /** Delete a pool: refused for the default pool and while it holds volumes. */
  async deletePool(name: string) {
    if (name === 'default') throw conflict('the default pool cannot be deleted');
    const dr = await this.driver(name);
    if ((await dr.listVolumes()).length) throw conflict(`storage pool ${name} still holds volumes`);
    return this.d.ops.start('storage.pool.delete', `pool/${name}`, async () => {
      await dr.deletePool();
      await this.d.store.delete(poolKey(name));
      this.drivers.delete(name);
    });
  }

  /**
   * The name a project's volume has in its pool (pools are host-wide; names are unique per project). The default
   * project's volumes keep their own names (the files nimbo always made); another project's are x + a hash of
   * PROJECT/NAME, a name no default volume may take (HASHED_VOLUME is refused at create).
   */
  hostVolume(project: string, name: string): string {
    return project === DEFAULT_PROJECT ? name : `x${createHash('sha256').update(`${project}/${name}`).digest('hex').slice(0, 24)}`;
  }

  /** A volume's metadata in a project (its defaults when nothing was recorded yet). */
  async meta(project: string, pool: string, volume: string): Promise<VolumeMeta> {
    return (await this.d.store.get<VolumeMeta>(metaKey(project, pool, volume)))?.value ?? defaultMeta(pool, volume);
  }

  /** Write a volume's metadata as a whole (a new volume's; changes of an existing one go through updateMeta/claim). */
  async setMeta(project: string, m: VolumeMeta): Promise<void> {
    await this.d.store.put(metaKey(project, m.pool, m.name), m);
  }

  /** Change a volume's metadata from its current value (compare-and-swap, retried with `fn` recomputed). */
  async updateMeta(project: string, pool: string, volume: string, fn: (cur: VolumeMeta) => VolumeMeta): Promise<VolumeMeta> {
    const res = await casUpdate<VolumeMeta>(this.d.store, metaKey(project, pool, volume), (cur) => fn(cur ?? defaultMeta(pool, volume)));
    return res!.value;
  }

  /**
   * Claim a volume for `owner` (an instance of the same project) atomically (attachedTo: none -> owner) before any
   * host work, so of two requests for one volume exactly one wins and the other gets an immediate 409.
   */
  async claim(project: string, pool: string, volume: string, owner: string): Promise<VolumeMeta> {
    return this.updateMeta(project, pool, volume, (cur) => {
      if (cur.attachedTo) throw conflict(`volume ${pool}/${volume} is already attached to ${cur.attachedTo}`);
      return { ...cur, attachedTo: owner };
    });
  }

  /** Give back `owner`'s claim on a volume; a claim held by someone else is left alone. */
  async release(project: string, pool: string, volume: string, owner: string): Promise<void> {
    await casUpdate<VolumeMeta>(this.d.store, metaKey(project, pool, volume), (cur) => (cur?.attachedTo === owner ? { ...cur, attachedTo: null } : undefined));
  }

  /** The API view of a project's volume `name` (the driver's `info` is of its host volume). */
  async volumeView(project: string, pool: string, name: string, info: VolumeInfo): Promise<Volume> {
    const m = await this.meta(project, pool, name);
    return {
      name,
      pool,
      kind: info.kind,
      ...(info.format ? { format: info.format } : {}),
      size: info.virtualSizeBytes,
      allocated: info.allocatedBytes,
      snapshots: info.snapshots,
      linked: info.linked,
      attachedTo: m.attachedTo,
      limits: m.limits,
    };
  }

  /** A project's volumes in a pool (the default project: the pool's own names; another: those its metadata names). */
  async volumes(project: string, pool: string): Promise<Volume[]> {
    const dr = await this.driver(pool);
    const all = await dr.listVolumes();
    if (project === DEFAULT_PROJECT) return Promise.all(all.filter((v) => !HASHED_VOLUME.test(v.name)).map((v) => this.volumeView(project, pool, v.name, v)));
    const byHost = new Map(all.map((v) => [v.name, v]));
    const out: Volume[] = [];
    for (const kv of await this.d.store.list<VolumeMeta>(keys.volumeMetaOf(project, pool))) {
      const info = byHost.get(this.hostVolume(project, kv.value.name));
      if (info) out.push(await this.volumeView(project, pool, kv.value.name, info));
    }
    return out;
  }

  /** One volume of a project. */
  async volume(project: string, pool: string, name: string): Promise<Volume> {
    validateName(name, 'volume name');
    return this.volumeView(project, pool, name, await (await this.driver(pool)).volumeInfo(this.hostVolume(project, name)));
  }

  /** A new volume's name: valid, not of the form host names of other projects' volumes take. */
  private newName(name: string): string {
    validateName(name, 'volume name');
    if (HASHED_VOLUME.test(name)) throw invalid(`volume name ${name} is reserved (x and 24 hex digits name other projects' volumes in a pool)`);
    return name;
  }

  /**
   * Charge `bytes` of a project's volume to its disk quota (whole GiB; undefined gives the charge back); a root
   * volume (`instance`: its UUID) counts in its instance's charge instead. QuotaExceeded changes nothing.
   */
  async chargeVolume(project: string, pool: string, name: string, bytes: number | undefined, instance?: string): Promise<void> {
    const q = this.d.quota;
    if (!q) return;
    const gib = bytes === undefined ? undefined : Math.ceil(bytes / 1024 ** 3);
    if (instance) await q.recharge(instance, project, (cur) => (cur && gib !== undefined ? { ...cur, diskGiB: gib } : cur));
    else await q.recharge(volumeChargeId(project, pool, name), project, () => (gib === undefined ? undefined : { diskGiB: gib }));
  }

  /**
   * Start the operation that makes volume `name` of `bytes`. Over the disk quota is a 403 before it starts (a
   * fast check); the binding charge is taken in the operation, under the volume's lock, once the name is known
   * to be free, and given back if the volume is not made.
   */
  private async startCharged(project: string, pool: string, name: string, bytes: number, type: string, make: () => Promise<Volume>) {
    const gib = Math.ceil(bytes / 1024 ** 3);
    await this.d.quota?.check(project, { diskGiB: gib });
    return this.d.ops.start(type, `volume/${pool}/${name}`, async () => {
      if (await this.volume(project, pool, name).then(() => true, () => false)) throw conflict(`volume ${pool}/${name} already exists`);
      await this.chargeVolume(project, pool, name, bytes);
      try {
        return await make();
      } catch (e) {
        await this.chargeVolume(project, pool, name, undefined).catch(() => undefined);
        throw e;
      }
    }, { lockAs: lockTarget.volume(project, pool, name), project });
  }

  /** Record a new volume of a project (its metadata is what lists it outside the default project). */
  private async recordNew(project: string, pool: string, name: string): Promise<void> {
    if (project !== DEFAULT_PROJECT) await this.setMeta(project, defaultMeta(pool, name));
  }

  /** Create a thin volume (an Operation). */
  async createVolume(project: string, pool: string, req: VolumeCreate) {
    this.newName(req.name);
    const size = parseBoundedSize(req.size, VOLUME_SIZE.min, VOLUME_SIZE.max, 'size');
    const dr = await this.driver(pool);
    return this.startCharged(project, pool, req.name, size, 'storage.volume.create', async () => {
      const info = await dr.createVolume({ name: this.hostVolume(project, req.name), kind: req.kind ?? 'block', sizeBytes: size });
      await this.recordNew(project, pool, req.name);
      return this.volumeView(project, pool, req.name, info);
    });
  }

  /** Refuse changes to a volume that a VM holds, unless the change can be made live. */
  async assertDetached(project: string, pool: string, name: string, what: string): Promise<void> {
    const m = await this.meta(project, pool, name);
    if (m.attachedTo) throw conflict(`volume ${pool}/${name} is attached to ${m.attachedTo}: detach it before you ${what}`);
  }

  /**
   * Delete a volume: refused while attached, unless `force` and its instance is stopped
   * (`detachStopped` then removes it from that instance first).
   */
  async deleteVolume(project: string, pool: string, name: string, force = false, detachStopped?: (instance: string) => Promise<void>) {
    await this.volume(project, pool, name);
    const holder = (await this.meta(project, pool, name)).attachedTo;
    if (holder && !(force && detachStopped)) await this.assertDetached(project, pool, name, 'delete it (or use --force on a stopped instance)');
    const dr = await this.driver(pool);
    return this.d.ops.start('storage.volume.delete', `volume/${pool}/${name}`, async () => {
      // Checked again under the volume's lock: an attach may have claimed it since the request.
      if ((await this.meta(project, pool, name)).attachedTo !== holder) await this.assertDetached(project, pool, name, 'delete it (or use --force on a stopped instance)');
      if (holder && detachStopped) await detachStopped(holder);
      await dr.deleteVolume(this.hostVolume(project, name));
      await this.d.store.delete(metaKey(project, pool, name));
      await this.chargeVolume(project, pool, name, undefined);
    }, { lockAs: lockTarget.volume(project, pool, name), project });
  }

  /** Rename a detached volume; its metadata follows. */
  async rename(project: string, pool: string, name: string, to: string): Promise<void> {
    this.newName(to);
    await this.assertDetached(project, pool, name, 'rename it');
    await (await this.driver(pool)).renameVolume(this.hostVolume(project, name), this.hostVolume(project, to));
    // The metadata moves in one transaction, and only if nobody claimed the volume since the check above.
    const kv = await this.d.store.get<VolumeMeta>(metaKey(project, pool, name));
    const m = kv?.value ?? defaultMeta(pool, name);
    if (m.attachedTo) throw conflict(`volume ${pool}/${name} was attached to ${m.attachedTo} while it was renamed`);
    const moved = await this.d.store.txn(
      [{ key: metaKey(project, pool, name), modRevision: kv?.modRevision ?? 0 }],
      [{ type: 'delete', key: metaKey(project, pool, name) }, { type: 'put', key: metaKey(project, pool, to), value: { ...m, name: to } }],
    );
    if (!moved) throw conflict(`volume ${pool}/${name} changed while it was renamed to ${to}`);
    await this.d.quota?.moveCharge(volumeChargeId(project, pool, name), volumeChargeId(project, pool, to));
  }

  /** Grow a volume in its pool (offline path; live growth of an attached volume goes through the instance). */
  async grow(project: string, pool: string, name: string, size: string | number): Promise<void> {
    const bytes = parseBoundedSize(size, VOLUME_SIZE.min, VOLUME_SIZE.max, 'size');
    const cur = await this.volume(project, pool, name);
    if (bytes < cur.size) throw invalid(`volume ${pool}/${name} is ${cur.size} bytes: shrinking to ${bytes} is not supported, only growing`);
    await (await this.driver(pool)).resizeVolume(this.hostVolume(project, name), bytes);
  }

  /** The snapshots of a project's volume. */
  async snapshots(project: string, pool: string, volume: string): Promise<Snapshot[]> {
    await this.volume(project, pool, volume);
    return (await this.driver(pool)).listSnapshots(this.hostVolume(project, volume));
  }

  /** Snapshot operations (create, restore, delete) on a detached volume. */
  async snapshotAction(project: string, pool: string, volume: string, action: 'create' | 'restore' | 'delete', snapshot: string) {
    validateName(snapshot, 'snapshot name');
    await this.volume(project, pool, volume);
    await this.assertDetached(project, pool, volume, `${action} a snapshot (use an instance snapshot for a running VM)`);
    const dr = await this.driver(pool);
    const host = this.hostVolume(project, volume);
    return this.d.ops.start(`storage.snapshot.${action}`, `volume/${pool}/${volume}`, async () => {
      await this.assertDetached(project, pool, volume, `${action} a snapshot (use an instance snapshot for a running VM)`); // claimed since the request?
      if (action === 'create') return dr.createSnapshot(host, snapshot);
      if (action === 'restore') return void (await dr.restoreSnapshot(host, snapshot));
      await dr.deleteSnapshot(host, snapshot);
    }, { lockAs: lockTarget.volume(project, pool, volume), project });
  }

  /** Clone a volume (linked by default) into a new volume of the same pool and project. */
  async clone(project: string, pool: string, volume: string, req: VolumeClone) {
    const src = await this.volume(project, pool, volume);
    this.newName(req.target);
    const dr = await this.driver(pool);
    // A clone counts its full size (a linked clone may be written full).
    return this.startCharged(project, pool, req.target, src.size, 'storage.volume.clone', async () => {
      const info = await dr.cloneVolume(this.hostVolume(project, volume), this.hostVolume(project, req.target), { mode: req.mode ?? 'linked', fromSnapshot: req.fromSnapshot });
      await this.recordNew(project, pool, req.target);
      return this.volumeView(project, pool, req.target, info);
    });
  }

  /** Import a qcow2/raw file from the daemon's host as a new volume. */
  async importVolume(project: string, pool: string, req: VolumeImport) {
    this.newName(req.name);
    if (!existsSync(req.path)) throw invalid(`file ${req.path} does not exist on the daemon's host`);
    const dr = await this.driver(pool);
    return this.d.ops.start('storage.volume.import', `volume/${pool}/${req.name}`, async (ctx) => {
      const format: VolumeFormat = req.format ?? (await detectFormat(this.d, req.path));
      const info = await dr.importVolume(req.path, format, this.hostVolume(project, req.name), { progress: (p, m) => ctx.progress(p, m), signal: ctx.signal });
      // Its size is known only now: over the quota, the imported volume goes again.
      await this.chargeVolume(project, pool, req.name, info.virtualSizeBytes).catch(async (e: unknown) => {
        await dr.deleteVolume(this.hostVolume(project, req.name)).catch(() => undefined);
        throw e;
      });
      await this.recordNew(project, pool, req.name);
      return this.volumeView(project, pool, req.name, info);
    }, { lockAs: lockTarget.volume(project, pool, req.name), project });
  }

  /** Export a volume to a new file on the daemon's host. */
  async exportVolume(project: string, pool: string, volume: string, req: VolumeExport) {
    await this.volume(project, pool, volume);
    if (existsSync(req.path)) throw conflict(`${req.path} already exists`);
    const dr = await this.driver(pool);
    return this.d.ops.start('storage.volume.export', `volume/${pool}/${volume}`, async (ctx) => {
      await dr.exportVolume(this.hostVolume(project, volume), req.path, req.format ?? 'qcow2', { progress: (p, m) => ctx.progress(p, m), signal: ctx.signal });
    }, { lockAs: lockTarget.volume(project, pool, volume), project });
  }
}

/** QEMU runs unprivileged: every existing directory above a pool must be searchable by others. */
export function assertReachable(path: string): void {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      throw invalid(`QEMU runs as an unprivileged user and cannot reach ${path}: ${dir} is not searchable by others (chmod o+x ${dir})`);
    }
    if (dir === dirname(dir)) return;
  }
}

/** qcow2 or raw, as qemu-img sees the file; anything else is refused. */
async function detectFormat(d: BaseDeps, file: string): Promise<VolumeFormat> {
  const fmt = parseInfo((await d.exec.run(['qemu-img', 'info', '--output=json', file])).stdout).format;
  if (fmt !== 'qcow2' && fmt !== 'raw') throw invalid(`${file} is ${fmt || 'unknown'}: only qcow2 and raw can be imported`);
  return fmt;
}
