// An instance record as its driver sees it: which driver, its host ids, the resolved spec (root and
// volume paths from the pools, networks, boot from the image), and the few calls every service makes
// (status, start). The one place that turns records into driver calls' arguments.
import type { DriverCapabilities, InstanceDriver, InstanceRef, InstanceSpec, InstanceStatus, VolumeSpec } from '../drivers/compute/instance-driver.js';
import type { DriverRegistry } from '../drivers/compute/registry.js';
import type { Accelerator } from '../drivers/compute/types.js';
import { conflict } from '../lib/errors.js';
import { lockTarget } from '../store/keys.js';
import type { BaseDeps } from './deps.js';
import { legacyHostIds } from './host-ids.js';
import type { ImageService } from './image-service.js';
import { driverNameOf, maxCpusOf, maxMemoryOf, projectOfRecord, type InstanceRecord } from './instance-record.js';
import type { NetworkService } from './network-service.js';
import type { StorageService } from './storage-service.js';
import { dedicatedCores, sharedCores, type SliceState } from './plans/slices.js';

/** What the runtime view of instances is built from. */
export interface RuntimeDeps extends BaseDeps {
  /** Dedicated slices of this host (core/quota/admission.ts); absent: no pinning at all. */
  slices?: { slices(): Promise<SliceState>; hostFacts(): { cpus: number } };
  drivers: DriverRegistry;
  storage: StorageService;
  network: NetworkService;
  images: ImageService;
}

/** Records → driver arguments, and the calls every instance service makes. */
export class InstanceRuntime {
  constructor(readonly d: RuntimeDeps) {}

  driverOf(rec: Pick<InstanceRecord, 'driver' | 'type'>): InstanceDriver {
    return this.d.drivers.get(driverNameOf(rec));
  }

  caps(rec: Pick<InstanceRecord, 'driver' | 'type'>): DriverCapabilities {
    return this.driverOf(rec).capabilities();
  }

  /** The store lock of an instance's operations (from its UUID: a rename never changes it). */
  lockOf(rec: Pick<InstanceRecord, 'uuid'>): string {
    return lockTarget.instance(rec.uuid);
  }

  /** The instance as every driver call sees it. */
  refOf(rec: InstanceRecord): InstanceRef {
    return {
      uuid: rec.uuid,
      name: rec.name,
      hostIds: rec.hostIds ?? legacyHostIds(this.d.paths, this.d.config.prefix, rec.name),
      driverConfig: rec.driverConfig ?? rec.container ?? (rec.qemuId !== undefined ? { qemuId: rec.qemuId } : {}),
    };
  }

  /** A pool volume with its host path, format, limits and id owner. */
  async volumeSpec(project: string, pool: string, volume: string, mountPath?: string): Promise<VolumeSpec> {
    const loc = await (await this.d.storage.driver(pool)).volumePath(this.d.storage.hostVolume(project, volume));
    const meta = await this.d.storage.meta(project, pool, volume);
    return {
      pool,
      volume,
      path: loc.path,
      ...(loc.format ? { format: loc.format } : {}),
      limits: meta.limits,
      ...(mountPath ? { mountPath } : {}),
      ...(meta.idOwner !== undefined ? { idOwner: meta.idOwner } : {}),
    };
  }

  /**
   * Everything a driver needs to start or change the instance (root path re-read each time: a clone or restore may
   * replace the file); `boot`: also how the image boots (only a start needs it).
   */
  async specOf(rec: InstanceRecord, opts: { boot?: boolean } = {}): Promise<InstanceSpec> {
    if (!rec.root) throw conflict(`instance ${rec.name} has no root volume`);
    const project = projectOfRecord(rec);
    // In rescue the rescue image's root boots and the instance's own root is its first extra disk.
    const bootRoot = rec.rescue?.root ?? rec.root;
    const root = await this.volumeSpec(project, bootRoot.pool, bootRoot.volume);
    const caps = this.caps(rec);
    // Installed from an ISO: SeaBIOS boots its CD-ROM drive (the ISO in it, if any), then its disk.
    const cdrom = rec.cdrom && !rec.rescue ? { ...(opts.boot && rec.cdrom.image !== null ? { path: (await this.d.images.ready(rec.cdrom.image)).disk } : {}) } : undefined;
    const boot = !opts.boot || caps.root !== 'image-clone' ? undefined
      : cdrom ? { kind: 'disk' as const } : (await this.d.images.ready(rec.rescue?.image ?? rec.image)).boot;
    const own = rec.rescue ? [await this.volumeSpec(project, rec.root.pool, rec.root.volume)] : [];
    const names = new Set(rec.nics.map((n) => n.network));
    const nets = names.size ? await this.d.network.records(project) : [];
    const networks = new Map(nets.filter((n) => names.has(n.name)).map((n) => [n.name, { name: n.name, gateway: n.gateway, mode: n.mode }]));
    return {
      ...this.refOf(rec),
      cpus: rec.cpus,
      memoryBytes: rec.memory,
      ...(rec.maxCpus !== undefined ? { maxCpus: maxCpusOf(rec) } : {}),
      ...(rec.maxMemory !== undefined ? { maxMemoryBytes: maxMemoryOf(rec) } : {}),
      ...(rec.accelerator === 'kvm' || rec.accelerator === 'tcg' ? { accelerator: rec.accelerator as Accelerator } : {}),
      ...(rec.arch ? { arch: rec.arch } : {}),
      ...(boot ? { boot } : {}),
      root: { pool: root.pool, volume: root.volume, path: root.path, ...(root.format ? { format: root.format } : {}), limits: root.limits },
      ...(await this.cpusetOf(rec)),
      nics: rec.nics,
      ...(cdrom ? { cdrom } : {}),
      volumes: [...own, ...(await Promise.all((rec.volumes ?? []).map((v) => this.volumeSpec(project, v.pool, v.volume, v.path))))],
      networks,
    };
  }

  /** A dedicated instance's own cores; a shared one's: every core no dedicated instance has (none dedicated: no cpuset). */
  async cpusetOf(rec: InstanceRecord): Promise<Pick<InstanceSpec, 'cpuset' | 'dedicated'>> {
    if (rec.slice) return { cpuset: [...rec.slice.cores], dedicated: true };
    if (!this.d.slices) return {};
    const state = await this.d.slices.slices();
    if (!dedicatedCores(state).length) return {};
    return { cpuset: sharedCores(state, this.d.slices.hostFacts()) };
  }

  /**
   * Move every running shared instance onto the cores no dedicated instance has now (after a dedicated slice was
   * given or given back), where its driver can do it live; a failure is logged, never thrown (it applies at next start).
   */
  async repinShared(records: InstanceRecord[]): Promise<void> {
    if (!this.d.slices) return;
    const state = await this.d.slices.slices();
    const cores = sharedCores(state, this.d.slices.hostFacts());
    for (const rec of records.filter((r) => !r.slice && r.state === 'running')) {
      const driver = this.driverOf(rec);
      if (!driver.setCpuset) continue;
      await driver.setCpuset(this.refOf(rec), cores, false).catch((e: unknown) => this.d.log.warn({ instance: rec.name, err: String(e) }, 'could not move a shared instance off the dedicated cores'));
    }
  }

  /** What the host says about the instance (cheap unless usage is asked for). */
  status(rec: InstanceRecord, opts: { usage?: boolean } = {}): Promise<InstanceStatus> {
    return this.driverOf(rec).status(this.refOf(rec), opts);
  }

  /** Running or paused on the host. */
  async live(rec: InstanceRecord): Promise<boolean> {
    return (await this.status(rec)).state !== 'stopped';
  }

  /** Start (or re-create after a host reboot) the instance: boot NICs and volumes from the record, hot-plugged ones plugged again. */
  async start(rec: InstanceRecord): Promise<void> {
    await this.driverOf(rec).start(await this.specOf(rec, { boot: true }));
  }
}
