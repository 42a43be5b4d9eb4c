import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Instance, InstanceCreate } from '../shared/api-types.js';
import type { NicRequest } from '../shared/network-types.js';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { AccelChoice, BaseDeps } from './deps.js';
import { formatSize, parseBoundedSize, validateName } from '../lib/validate.js';
import { instanceKey, toInstance, type InstanceRecord } from './instance-record.js';
import type { ImageService } from './image-service.js';
import type { NetworkService } from './network-service.js';
import type { ConsoleManager } from './consoles.js';
import { Reverter } from '../lib/reverter.js';
import { validateLabels } from './labels.js';
import { renderSeed } from '../images/seed.js';
import type { ComputeDriver, VmDisk } from '../drivers/compute/types.js';
import { NO_LIMITS, type StorageService } from './storage-service.js';
import type { QemuInstanceOps, QemuInstanceSpec, QemuRef } from '../drivers/compute/qemu/instance-ops.js';
import type { ContainerService } from './container-service.js';
import type { InstanceDeps, InstanceHost, NicsPort, SnapshotsPort, VolumesPort } from './instance-ports.js';
import { tapName } from './instance-nics-plan.js';
import { allocateVmId, ensureVmId, releaseVmId } from './vm-ids.js';
import { casUpdate } from '../store/cas.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
export const LIMITS = { memory: { min: 64 * MiB, max: 256 * GiB, def: 512 * MiB }, disk: { min: 16 * MiB, max: 16 * 1024 * GiB, def: 2 * GiB } };

/** Instances: records in the store, host objects made and removed with a reverter. */
export class InstanceService implements InstanceHost {
  /** Set by the daemon once storage exists: attached pool volumes become extra disks. */
  volumes?: VolumesPort;
  /** Set by the daemon: pools hold every instance's root disk. */
  storageService?: StorageService;
  /** Set by the daemon: instance snapshots (forgotten when the instance is deleted). */
  snapshots?: SnapshotsPort;
  /** Set by the daemon when runc is there: system containers. */
  containers?: ContainerService;
  /** Set by the daemon: NIC hot-plug, bandwidth limits, counters, and the firewall policy they feed. */
  nics?: NicsPort;
  constructor(readonly d: InstanceDeps) {}

  async record(name: string): Promise<InstanceRecord> {
    const kv = await this.d.store.get<InstanceRecord>(instanceKey(name));
    if (!kv) throw notFound(`instance ${name}`);
    return kv.value;
  }

  async records(): Promise<InstanceRecord[]> {
    return (await this.d.store.list<InstanceRecord>('/instances/')).map((k) => k.value);
  }

  /**
   * Update a record (compare-and-swap, retried): `change` is merged into the current record; give a function of the
   * current record when the change depends on it (a list to extend, a counter), so each retry recomputes it.
   */
  async patch(name: string, change: Partial<InstanceRecord> | ((cur: InstanceRecord) => Partial<InstanceRecord>)): Promise<InstanceRecord> {
    const res = await casUpdate<InstanceRecord>(this.d.store, instanceKey(name), (cur) => {
      if (!cur) throw notFound(`instance ${name}`);
      const ch = typeof change === 'function' ? change(cur) : change;
      const rec = { ...cur, ...ch };
      if (!('error' in ch) && ch.state && ch.state !== 'error') delete rec.error;
      return rec;
    });
    const rec = res!.value;
    this.d.events.publish('instance', name, { state: rec.state });
    return rec;
  }

  /** The API view, with the live pid. */
  async view(rec: InstanceRecord): Promise<Instance> {
    const live = rec.state === 'running' || rec.state === 'paused';
    if (rec.type === 'container' && this.containers) {
      const v = toInstance(rec, null);
      const withUsage = live ? { ...v, ...(await this.containers.live(rec)) } : v;
      return this.nics ? this.nics.withCounters(withUsage) : withUsage;
    }
    const view = toInstance(rec, live ? this.d.vms.pidOf(this.vmRef(rec)) : null);
    return this.nics ? this.nics.withCounters(view) : view;
  }

  /** Instances that use an image. */
  async usersOf(image: string): Promise<string[]> {
    return (await this.records()).filter((r) => r.image === image).map((r) => r.name);
  }

  /** The root disk: its pool volume's current path (re-read at each start: a clone or restore may replace the file). */
  async rootDisk(rec: InstanceRecord): Promise<VmDisk> {
    if (!rec.root) return { id: 'root', path: join(this.d.paths.instance(rec.name), 'root.qcow2'), format: 'qcow2' };
    const loc = await (await this.storage().driver(rec.root.pool)).volumePath(rec.root.volume);
    return { id: 'root', path: loc.path, format: loc.format ?? 'raw' };
  }

  private storage(): StorageService {
    if (!this.storageService) throw new Error('storage is not wired');
    return this.storageService;
  }

  /** The instance as the QEMU operations know it: its name, host dirs and QEMU uid. */
  vmRef(rec: { name: string; qemuId?: number }): QemuRef {
    return {
      name: rec.name,
      hostIds: { runDir: this.d.paths.run(rec.name), instanceDir: this.d.paths.instance(rec.name) },
      driverConfig: rec.qemuId !== undefined ? { qemuId: rec.qemuId } : {},
    };
  }

  /** What the QEMU driver starts a VM from. */
  async vmSpec(rec: InstanceRecord): Promise<QemuInstanceSpec> {
    const img = await this.d.images.ready(rec.image);
    const root = await this.rootDisk(rec);
    return {
      ...this.vmRef(rec),
      uuid: rec.uuid,
      cpus: rec.cpus,
      memoryBytes: rec.memory,
      accelerator: this.d.accel.accelerator,
      image: { boot: img.boot },
      root: { path: root.path, format: root.format },
      nics: rec.nics,
    };
  }

  /** Validate a create request, reserve the name, and run the create as an Operation. */
  async create(req: InstanceCreate) {
    validateName(req.name, 'instance name');
    validateName(req.image, 'image name');
    const labels = validateLabels(req.labels);
    // A missing built-in image (tiny, debian-12) is built by the create Operation, before anything else.
    const img = await this.d.images.forLaunch(req.image);
    const memory = parseBoundedSize(req.memory ?? LIMITS.memory.def, LIMITS.memory.min, LIMITS.memory.max, 'memory');
    const isContainer = req.type === 'container' || req.app !== undefined;
    // A container's disk is the quota of its root volume (the overlay's upper layer: what it
    // writes, never the shared image tree); without --disk it has none (0 = no limit).
    const disk = isContainer && req.disk === undefined ? 0
      : parseBoundedSize(req.disk ?? Math.max(LIMITS.disk.def, img.virtualSizeBytes), LIMITS.disk.min, LIMITS.disk.max, 'disk');
    if (!isContainer && disk < img.virtualSizeBytes) {
      throw new NimboError('InvalidArgument', `disk ${formatSize(disk)} is smaller than image ${req.image} (${formatSize(img.virtualSizeBytes)})`);
    }
    const nicReqs = req.nics ?? [{ network: 'default' }];
    await this.nics?.validateRequests(nicReqs);
    const uuid = randomUUID();
    const pool = req.pool ?? 'default';
    const poolDriver = await this.storage().driver(pool);
    const caps = await poolDriver.capabilities();
    if (isContainer && !caps.filesystemVolumes) throw invalid(`pool ${pool} has no filesystem volumes: a container's root needs one`);
    if (isContainer && disk > 0 && !caps.quotas) {
      throw invalid(`pool ${pool} (${poolDriver.spec.driver} driver) cannot limit a container's disk (its filesystem volumes have no quotas); use a btrfs pool, or omit --disk`);
    }
    if (img.oci && !req.app) throw new NimboError('InvalidArgument', `image ${req.image} is an OCI application image: launch it with --app`);
    if (req.app && !img.oci) throw new NimboError('InvalidArgument', `image ${req.image} is not an OCI application image (import one with nimbo image import)`);
    const app = req.app ? await this.containers?.appProcess(req.image, req.app) : undefined;
    if (isContainer && !this.containers) throw conflict('containers are not available on this host (runc is missing)');
    const diskReq = { readBps: req.diskReadBps, writeBps: req.diskWriteBps, readIops: req.diskReadIops, writeIops: req.diskWriteIops };
    if (!isContainer && (req.pids !== undefined || req.cpuWeight !== undefined || req.swap !== undefined || Object.values(diskReq).some((v) => v !== undefined))) {
      throw new NimboError('InvalidArgument', 'pids, cpuWeight, swap and the disk rates are container limits');
    }
    const swapBytes = req.swap !== undefined ? parseBoundedSize(req.swap, 0, LIMITS.memory.max, 'swap') : undefined;
    // Block I/O throttles: bytes per second as sizes (at least 1 MiB/s), operations per second as counts.
    const diskRates: { readBps?: number; writeBps?: number; readIops?: number; writeIops?: number } = {};
    for (const k of ['readBps', 'writeBps'] as const) if (diskReq[k] !== undefined) diskRates[k] = parseBoundedSize(diskReq[k], 2 ** 20, 2 ** 50, `disk ${k === 'readBps' ? 'read' : 'write'} rate`);
    for (const k of ['readIops', 'writeIops'] as const) if (diskReq[k] !== undefined) diskRates[k] = diskReq[k];
    const rec: InstanceRecord = {
      name: req.name,
      uuid,
      type: isContainer ? 'container' : 'vm',
      image: req.image,
      cpus: req.cpus ?? 1,
      memory,
      disk,
      sshKeys: req.sshKeys ?? [],
      state: 'creating',
      accelerator: isContainer ? 'none' : this.d.accel.accelerator,
      nics: [],
      ...(labels ? { labels } : {}),
      createdAt: new Date().toISOString(),
    };
    try {
      await this.d.store.put(instanceKey(rec.name), rec, { expectRevision: 0 });
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Conflict') throw conflict(`instance ${rec.name} already exists`);
      throw e;
    }
    this.d.events.publish('instance', rec.name, { state: 'creating' });
    return this.d.ops.start('instance.create', rec.name, async (ctx) => {
      const r = new Reverter(this.d.log, { instance: rec.name, op: 'create' });
      // After a build, the create's own steps share the last 40% of the progress.
      let progress = (p: number, m?: string) => ctx.progress(p, m);
      try {
        r.add('record', () => this.d.store.delete(instanceKey(rec.name)));
        if (img.pending) {
          await this.d.images.ensure(req.image, (p, m) => ctx.progress(p * 0.6, m && `image ${req.image}: ${m}`), ctx.signal);
          ctx.checkCancelled();
          progress = (p, m) => ctx.progress(60 + p * 0.4, m);
        }
        if (isContainer) {
          const hostId = await this.containers!.allocateIds(rec.name);
          r.add('id range', () => this.containers!.releaseIds(hostId));
          rec.container = {
            kind: app ? 'app' : 'system',
            hostId,
            netns: `${this.d.config.prefix}-${uuid.slice(0, 8)}`,
            stopSignal: app ? 'SIGTERM' : req.image === 'tiny' ? 'SIGUSR2' : 'SIGRTMIN+4',
            pids: req.pids ?? 2048,
            ...(req.cpuWeight !== undefined ? { cpuWeight: req.cpuWeight } : {}),
            ...(swapBytes !== undefined ? { swapBytes } : {}),
            ...(Object.keys(diskRates).length ? { disk: diskRates } : {}),
            ...(app ? { app } : {}),
          };
        } else {
          const qemuId = await allocateVmId(this.d.store, rec.name);
          r.add('qemu user id', () => releaseVmId(this.d.store, qemuId));
          rec.qemuId = qemuId;
        }
        await this.provision(rec, nicReqs, pool, r, progress);
        ctx.checkCancelled();
        if (req.start !== false) {
          progress(80, 'starting');
          await this.boot(rec);
          r.add('vm process', () => this.d.compute.kill(this.d.paths.run(rec.name)));
        }
        const final = await this.patch(rec.name, { state: req.start !== false ? 'running' : 'stopped', nics: rec.nics });
        r.success();
        return this.view(final);
      } catch (e) {
        await r.revert();
        await this.nics?.applyFirewall().catch(() => undefined); // its ports leave the ruleset
        this.d.events.publish('instance', rec.name, { state: 'deleted' });
        throw e;
      }
    });
  }

  /** Address, disk, seed and tap for a new instance; each step registers its undo. */
  private async provision(rec: InstanceRecord, nicReqs: NicRequest[], pool: string, r: Reverter, progress: (p: number, m: string) => void): Promise<void> {
    // A container's root does not depend on its addresses: make it while they are allocated.
    const rootDone = rec.container ? this.containerRoot(rec, pool, r) : undefined;
    rootDone?.catch(() => undefined); // awaited in provisionSteps; a failure must not go unhandled meanwhile
    try {
      await this.provisionSteps(rec, nicReqs, pool, r, progress, rootDone);
    } catch (e) {
      await rootDone?.catch(() => undefined); // its undo must be registered before the reverter runs
      throw e;
    }
  }

  private async provisionSteps(rec: InstanceRecord, nicReqs: NicRequest[], pool: string, r: Reverter, progress: (p: number, m: string) => void, rootDone?: Promise<void>): Promise<void> {
    const dir = this.d.paths.instance(rec.name);
    progress(10, 'allocating addresses');
    r.add('addresses', () => this.d.network.release(rec.name));
    for (const [i, req] of nicReqs.entries()) {
      const name = `eth${i}`;
      const alloc = await this.d.network.allocate(req.network, rec.name, name, rec.name, req.address);
      rec.nics.push({
        name,
        network: req.network,
        mac: alloc.mac,
        address: alloc.ip,
        ...(alloc.ipv6 ? { ipv6: alloc.ipv6 } : {}),
        tap: tapName(this.d.config.prefix, rec.uuid, name),
        securityGroups: req.securityGroups ?? ['default'],
        ...(this.nics ? this.nics.limitsOf(req) : {}),
      });
    }
    await this.d.store.put(instanceKey(rec.name), rec);
    // The new ports enter the ruleset while disk and seed are made; it is in place before anything boots.
    const firewallDone = this.nics?.applyFirewall();
    firewallDone?.catch(() => undefined);

    progress(25, 'creating disk, seed and tap');
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    r.add('instance dir', () => rmSync(dir, { recursive: true, force: true }));
    const img = await this.d.images.ready(rec.image);
    const nets = new Map((await this.d.network.records()).map((n) => [n.name, n]));
    const files = renderSeed({
      instanceId: rec.uuid,
      hostname: rec.name,
      sshKeys: rec.sshKeys,
      // The default route goes through the first NIC's network, unless that network is isolated.
      nics: rec.nics.map((n, i) => {
        const net = nets.get(n.network)!;
        return { mac: n.mac, address: n.address, ...(i === 0 && net.mode !== 'isolated' ? { gateway: net.gateway } : {}), dns: [net.gateway] };
      }),
    });
    const root = { pool, volume: rootVolumeName(rec.name) };
    if (rec.container) {
      // A container: the seed is a directory; veths come at boot.
      await this.containers!.writeSeed(rec, rec.container, files);
      progress(40, 'container root');
      await rootDone;
      await firewallDone;
      await this.d.store.put(instanceKey(rec.name), rec);
      return;
    }
    // Independent steps run side by side; each registers its undo once done, then the first failure is thrown.
    const steps = await Promise.allSettled([
      this.storage()
        .driver(root.pool)
        .then((dr) => dr.cloneFromImage(img.disk, img.format, root.volume, rec.disk))
        .then(() => r.add('root volume', () => this.dropRoot(root))),
      this.d.vms.writeSeed(this.vmRef(rec), files),
      ...rec.nics.map((n) => this.d.network.createTap(n.tap, n.network, this.tapOwner(rec)).then(() => r.add(`tap ${n.tap}`, () => this.d.network.deleteTap(n.tap)))),
    ]);
    const failed = steps.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await firewallDone;
    rec.root = root;
    await this.storage().setMeta({ pool: root.pool, name: root.volume, attachedTo: rec.name, limits: { ...NO_LIMITS } });
    await this.d.store.put(instanceKey(rec.name), rec);
  }

  /** A container's root: a filesystem volume holding an overlay over the image's tree, ids shifted. */
  private async containerRoot(rec: InstanceRecord, pool: string, r: Reverter): Promise<void> {
    const root = { pool, volume: rootVolumeName(rec.name) };
    const dr = await this.storage().driver(root.pool);
    await dr.createVolume({ name: root.volume, kind: 'filesystem', sizeBytes: rec.disk });
    rec.root = root;
    r.add('root volume', async () => {
      await this.containers!.teardown(rec).catch(() => undefined);
      await this.dropRoot(root);
    });
    await this.storage().setMeta({ pool: root.pool, name: root.volume, attachedTo: rec.name, limits: { ...NO_LIMITS } });
    await this.containers!.makeRoot(rec, rec.container!);
  }

  /** Delete an instance's root volume and its metadata. */
  async dropRoot(root: { pool: string; volume: string }): Promise<void> {
    await (await this.storage().driver(root.pool)).deleteVolume(root.volume);
    await this.d.store.delete(`/volumes/${root.pool}/${root.volume}`);
  }

  /** Who may open a VM's taps after QEMU dropped privileges (hot-plug): the VM's own uid. */
  tapOwner(rec: InstanceRecord): string | undefined {
    return this.d.vms.tapOwner(this.vmRef(rec));
  }

  /** Start the VM process and attach its console (containers: the runc container). */
  async boot(rec: InstanceRecord): Promise<void> {
    if (rec.type === 'container') return this.containers!.boot(rec);
    const fromOlderVersion = rec.qemuId === undefined;
    await ensureVmId(this.d.store, rec, async (qemuId) => {
      await this.patch(rec.name, { qemuId });
    });
    for (const nic of rec.nics) {
      // Its hot-plugged taps belong to the shared QEMU user, which its own uid cannot open: make them again.
      if (fromOlderVersion && nic.hotplug && (await this.d.network.tapExists(nic.tap))) await this.d.network.deleteTap(nic.tap);
      if (!(await this.d.network.tapExists(nic.tap))) await this.d.network.createTap(nic.tap, nic.network, this.tapOwner(rec));
      await this.nics?.applyLimits(nic);
    }
    await this.d.vms.start(await this.vmSpec(rec));
    this.d.consoles.attach(rec.name, this.d.paths.run(rec.name));
    await this.volumes?.plugAll(rec); // hot-plug ports, so they can be detached again later
    await this.nics?.plugAll(rec);
  }
}

/** The root volume's name for an instance (a DNS label: long instance names are shortened with a hash). */
export function rootVolumeName(instance: string): string {
  if (instance.length <= 58) return `${instance}-root`;
  return `${instance.slice(0, 41)}-${createHash('sha1').update(instance).digest('hex').slice(0, 10)}-root`;
}
