// `nimbo copy SRC DST`: a new instance made from another one's disks (like `incus copy`). The
// copy keeps the image, type, CPUs, memory, disk size, driver limits, SSH keys and NICs
// (same networks, security groups and bandwidth limits) and the root volume's I/O limits, but gets its own name, UUID, MACs and
// addresses (allocated by the normal IPAM path), host ids, seed (hostname, addresses) and its driver's
// own ids (a QEMU uid, a container id range). The source must be stopped, unless a snapshot of it
// is copied. Attached volumes and the snapshot schedule are not copied; a VM's UEFI vars and TPM state are (as they are now, also for a snapshot copy). Provisioning is the launch's
// (InstanceProvisioner) with the root cloned from the source's root volume.
// A failure undoes every step (Reverter), leaving neither record, addresses, volume nor host objects.
import { randomUUID } from 'node:crypto';
import type { InstanceCopy as CopyRequest, Nic, Operation } from '../shared/api-types.js';
import { conflict } from '../lib/errors.js';
import type { InstanceRecord } from './instance-record.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceProvisioner, NicPlan } from './instance-provision.js';
import type { InstanceViews } from './instance-view.js';
import type { NicsPort, SnapshotsPort } from './instance-ports.js';
import type { InstanceSnapshot } from '../shared/storage-types.js';
import { Reverter } from '../lib/reverter.js';
import { validateName } from '../lib/validate.js';
import { newHostIds } from './host-ids.js';
import { idPort } from './instance-ids.js';

/** The record of a copy: the source's configuration with a new identity (NICs, root and driver config are filled in later). */
export function copyRecord(src: InstanceRecord, name: string, uuid: string, now = new Date()): InstanceRecord {
  return {
    v: 2,
    name,
    uuid,
    type: src.type,
    ...(src.driver ? { driver: src.driver } : {}),
    image: src.image,
    cpus: src.cpus,
    memory: src.memory,
    // Its hot-add room too (VMs launched with --max-cpus/--max-memory).
    ...(src.maxCpus !== undefined ? { maxCpus: src.maxCpus } : {}),
    ...(src.maxMemory !== undefined ? { maxMemory: src.maxMemory } : {}),
    disk: src.disk,
    sshKeys: [...src.sshKeys],
    state: 'creating',
    accelerator: src.accelerator,
    ...(src.arch ? { arch: src.arch } : {}),
    nics: [],
    ...(src.labels ? { labels: { ...src.labels } } : {}),
    // A copy is a new instance (new id): cloud-init runs its user-data again there, as on a fresh launch.
    ...(src.userData !== undefined ? { userData: src.userData } : {}),
    ...(src.vendorData !== undefined ? { vendorData: src.vendorData } : {}),
    description: src.description ?? '',
    createdAt: now.toISOString(),
  };
}

/** A NIC of the copy: the source NIC's name, network, groups and limits (its MAC, address and host end are new). */
export function copyNicPlan(src: Nic): NicPlan {
  return {
    name: src.name,
    network: src.network,
    securityGroups: [...(src.securityGroups ?? ['default'])],
    ...(src.ingressBps !== undefined ? { ingressBps: src.ingressBps } : {}),
    ...(src.egressBps !== undefined ? { egressBps: src.egressBps } : {}),
    ...(src.hotplug ? { hotplug: true } : {}),
  };
}

/** Copies of instances. */
export class InstanceCopier {
  constructor(
    private runtime: InstanceRuntime,
    private repo: InstanceRepo,
    private provisioner: InstanceProvisioner,
    private views: InstanceViews,
    private nics: NicsPort,
    private snapshots: SnapshotsPort,
  ) {}

  private get d() {
    return this.runtime.d;
  }

  /** Check the request, reserve the new name and run the copy as an Operation (locked on the source, so it cannot start meanwhile). */
  async copy(project: string, source: string, req: CopyRequest): Promise<Operation> {
    validateName(source, 'instance name');
    const name = validateName(req.name, 'instance name');
    if (req.snapshot !== undefined) validateName(req.snapshot, 'snapshot name');
    const src = await this.repo.record(project, source);
    if (name === source) throw conflict(`a copy needs a new name: ${name} is the source`);
    if (src.state === 'creating') throw conflict(`instance ${source} is still being created`);
    if (!src.root) throw conflict(`instance ${source} has no root volume in a storage pool: it cannot be copied`);
    const driver = this.runtime.driverOf(src);
    let snap: InstanceSnapshot | undefined;
    if (req.snapshot !== undefined) snap = await this.snapshots.get(project, source, req.snapshot);
    else await this.assertStopped(src, '(--snapshot)');
    const rec = copyRecord(src, name, randomUUID());
    rec.project = project;
    rec.hostIds = newHostIds(this.d.paths, this.d.config.prefix, rec.uuid);
    rec.desired = { power: req.start ? 'running' : 'stopped', autostart: src.desired?.autostart ?? 'last-state' };
    const ids = idPort(this.d.store, rec.uuid);
    // The copy's own driver ids (a QEMU uid, a container id range) with the source's driver settings.
    rec.driverConfig = await driver.plan({ uuid: rec.uuid, name, image: src.image, ...ids, from: this.runtime.refOf(src).driverConfig });
    try {
      await this.repo.create(rec);
    } catch (e) {
      await driver.release(this.runtime.refOf(rec), ids);
      throw e;
    }
    return this.d.ops.start('instance.copy', source, async (ctx) => {
      const r = new Reverter(this.d.log, { instance: name, op: 'copy' });
      try {
        r.add('record', () => this.repo.delete(project, name));
        r.add('host ids', () => driver.release(this.runtime.refOf(rec), ids));
        if (snap === undefined) await this.assertStopped(await this.repo.record(project, source), '');
        const progress = (p: number, m: string) => ctx.progress(p, m);
        const root = { from: 'volume' as const, pool: src.root!.pool, volume: src.root!.volume, ...(snap ? { snapshot: snap.name } : {}) };
        await this.provisioner.provision(rec, src.nics.map(copyNicPlan), root, r, progress);
        // Beside the disks: the source's small state files (a VM's UEFI vars and TPM state); the undo of provision removes them.
        if (driver.exportState && driver.importState) await driver.importState(this.runtime.refOf(rec), await driver.exportState(this.runtime.refOf(src)));
        ctx.checkCancelled();
        if (req.start) {
          ctx.progress(85, 'starting');
          await this.runtime.start(rec);
          r.add('instance process', () => driver.stop(this.runtime.refOf(rec), { timeoutMs: 0, force: true }));
        }
        const final = await this.repo.patch(project, name, { state: req.start ? 'running' : 'stopped', nics: rec.nics, ...(rec.root ? { root: rec.root } : {}) });
        r.success();
        this.d.log.info({ instance: name, source, snapshot: snap?.name }, 'instance copied');
        return this.views.view(final);
      } catch (e) {
        await r.revert();
        await this.nics.applyFirewall().catch(() => undefined);
        this.d.events.publish('instance', name, { state: 'deleted' }, project);
        throw e;
      }
    }, { lockAs: this.runtime.lockOf(src), locks: [this.runtime.lockOf(rec)], project });
  }

  private async assertStopped(src: InstanceRecord, hint: string): Promise<void> {
    const st = (await this.runtime.status(src)).state;
    if (st !== 'stopped') throw conflict(`instance ${src.name} is ${st}: stop it first, or copy one of its snapshots${hint ? ` ${hint}` : ''}`);
  }
}
