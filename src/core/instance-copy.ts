// `nimbo copy SRC DST`: a new instance made from another one's disks (like `incus copy`). The
// copy keeps the image, type, CPUs, memory, disk size, container limits, SSH keys and NICs
// (same networks, security groups and bandwidth limits) and the root volume's I/O limits, but gets its own name, UUID, MACs and
// addresses (allocated by the normal IPAM path), tap/veth names, seed (hostname, addresses) and,
// for a container, its own host id range. The source must be stopped, unless a snapshot of it
// is copied. Attached volumes and the snapshot schedule are not copied.
//   VM: the root disk is cloned in its pool (linked when the pool can, else a full copy).
//   Container: see container-clone.ts (volume clone, then a re-shift to the new id range).
// A failure undoes every step (Reverter), leaving neither record, addresses, volume nor taps.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import type { InstanceCopy as CopyRequest, Nic, Operation } from '../shared/api-types.js';
import { renderSeed } from '../images/seed.js';
import { cloneContainerRoot } from './container-clone.js';
import type { ContainerInfo } from './container-service.js';
import { conflict, NimboError } from '../lib/errors.js';
import { tapName } from './instance-nics-plan.js';
import { instanceKey, type InstanceRecord } from './instance-record.js';
import { rootVolumeName, type InstanceService } from './instance-service.js';
import type { InstanceSnapshot } from './instance-snapshots.js';
import { Reverter } from '../lib/reverter.js';
import { NO_LIMITS } from './storage-service.js';
import { validateName } from '../lib/validate.js';
import { allocateVmId, releaseVmId } from './vm-ids.js';

/** The record of a copy: the source's configuration with a new identity (NICs and root are filled in later). */
export function copyRecord(src: InstanceRecord, name: string, uuid: string, now = new Date()): InstanceRecord {
  return {
    name,
    uuid,
    type: src.type,
    image: src.image,
    cpus: src.cpus,
    memory: src.memory,
    disk: src.disk,
    sshKeys: [...src.sshKeys],
    state: 'creating',
    accelerator: src.accelerator,
    nics: [],
    ...(src.labels ? { labels: { ...src.labels } } : {}),
    createdAt: now.toISOString(),
  };
}

/** The container part of a copy: the source's limits and process, a new id range and netns; no runtime history. */
export function copyContainerInfo(src: ContainerInfo, hostId: number, netns: string): ContainerInfo {
  const { oomKills: _o, exitCode: _e, ...rest } = src;
  return { ...rest, hostId, netns, ...(src.app ? { app: { ...src.app, args: [...src.app.args], env: [...src.app.env] } } : {}) };
}

/** A NIC of the copy: the source NIC's name, network, groups and limits with a new MAC, address and tap. */
export function copyNic(src: Nic, alloc: { mac: string; ip: string; ipv6?: string }, tap: string): Nic {
  return {
    name: src.name,
    network: src.network,
    mac: alloc.mac,
    address: alloc.ip,
    ...(alloc.ipv6 ? { ipv6: alloc.ipv6 } : {}),
    tap,
    securityGroups: [...(src.securityGroups ?? ['default'])],
    ...(src.ingressBps !== undefined ? { ingressBps: src.ingressBps } : {}),
    ...(src.egressBps !== undefined ? { egressBps: src.egressBps } : {}),
    ...(src.hotplug ? { hotplug: true } : {}),
  };
}

/** Copies of instances. */
export class InstanceCopier {
  constructor(private svc: InstanceService) {}

  private get d() {
    return this.svc.d;
  }

  /** Check the request, reserve the new name and run the copy as an Operation (on the source, so it cannot start meanwhile). */
  async copy(source: string, req: CopyRequest): Promise<Operation> {
    validateName(source, 'instance name');
    const name = validateName(req.name, 'instance name');
    if (req.snapshot !== undefined) validateName(req.snapshot, 'snapshot name');
    const src = await this.svc.record(source);
    if (name === source) throw conflict(`a copy needs a new name: ${name} is the source`);
    if (src.state === 'creating') throw conflict(`instance ${source} is still being created`);
    if (!src.root) throw conflict(`instance ${source} has no root volume in a storage pool: it cannot be copied`);
    if (src.type === 'container' && !this.svc.containers) throw conflict('containers are not available on this host (runc is missing)');
    let snap: InstanceSnapshot | undefined;
    if (req.snapshot !== undefined) {
      if (!this.svc.snapshots) throw conflict('snapshots are not available');
      snap = await this.svc.snapshots.get(source, req.snapshot);
    } else {
      const live = await this.d.compute.state(this.d.paths.run(source));
      if (live !== 'stopped') throw conflict(`instance ${source} is ${live}: stop it first, or copy one of its snapshots (--snapshot)`);
    }
    const rec = copyRecord(src, name, randomUUID());
    try {
      await this.d.store.put(instanceKey(name), rec, { expectRevision: 0 });
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Conflict') throw conflict(`instance ${name} already exists`);
      throw e;
    }
    this.d.events.publish('instance', name, { state: 'creating' });
    return this.d.ops.start('instance.copy', source, async (ctx) => {
      const r = new Reverter(this.d.log, { instance: name, op: 'copy' });
      try {
        r.add('record', () => this.d.store.delete(instanceKey(name)));
        if (snap === undefined) {
          const live = await this.d.compute.state(this.d.paths.run(source));
          if (live !== 'stopped') throw conflict(`instance ${source} is ${live}: stop it first, or copy one of its snapshots`);
        }
        await this.build(src, rec, snap, r, (p, m) => ctx.progress(p, m));
        ctx.checkCancelled();
        if (req.start) {
          ctx.progress(85, 'starting');
          await this.svc.boot(rec);
          r.add('instance process', () => this.d.compute.kill(this.d.paths.run(name)));
        }
        const final = await this.svc.patch(name, { state: req.start ? 'running' : 'stopped', nics: rec.nics });
        r.success();
        this.d.log.info({ instance: name, source, snapshot: snap?.name }, 'instance copied');
        return this.svc.view(final);
      } catch (e) {
        await r.revert();
        await this.svc.nics?.applyFirewall().catch(() => undefined);
        this.d.events.publish('instance', name, { state: 'deleted' });
        throw e;
      }
    });
  }

  /** Id range, addresses, seed, root disk and taps of the copy; each step registers its undo. */
  private async build(src: InstanceRecord, rec: InstanceRecord, snap: InstanceSnapshot | undefined, r: Reverter, progress: (p: number, m: string) => void): Promise<void> {
    const d = this.d;
    if (src.container) {
      const hostId = await this.svc.containers!.allocateIds(rec.name);
      r.add('id range', () => this.svc.containers!.releaseIds(hostId));
      rec.container = copyContainerInfo(src.container, hostId, `${d.config.prefix}-${rec.uuid.slice(0, 8)}`);
    } else {
      const qemuId = await allocateVmId(d.store, rec.name); // a copy never shares its source's QEMU user
      r.add('qemu user id', () => releaseVmId(d.store, qemuId));
      rec.qemuId = qemuId;
    }
    progress(10, 'allocating addresses');
    r.add('addresses', () => d.network.release(rec.name));
    for (const nic of src.nics) {
      const alloc = await d.network.allocate(nic.network, rec.name, nic.name, rec.name);
      rec.nics.push(copyNic(nic, alloc, tapName(d.config.prefix, rec.uuid, nic.name)));
    }
    await d.store.put(instanceKey(rec.name), rec);
    const firewallDone = this.svc.nics?.applyFirewall();
    firewallDone?.catch(() => undefined);

    progress(25, 'seed');
    const dir = d.paths.instance(rec.name);
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    r.add('instance dir', () => rmSync(dir, { recursive: true, force: true }));
    const nets = new Map((await d.network.records()).map((n) => [n.name, n]));
    const files = renderSeed({
      instanceId: rec.uuid,
      hostname: rec.name,
      sshKeys: rec.sshKeys,
      nics: rec.nics.map((n, i) => {
        const net = nets.get(n.network)!;
        return { mac: n.mac, address: n.address, ...(i === 0 && net.mode !== 'isolated' ? { gateway: net.gateway } : {}), dns: [net.gateway] };
      }),
    });
    const from = src.root!;
    const root = { pool: from.pool, volume: rootVolumeName(rec.name) };
    if (rec.container) {
      await this.svc.containers!.writeSeed(rec, rec.container, files);
      progress(40, snap ? `copying the root volume from snapshot ${snap.name}` : 'copying the root volume');
      const t = await cloneContainerRoot(this.svc, from, { ...root, hostId: rec.container.hostId }, r, snap?.name);
      d.log.debug({ instance: rec.name, ...t }, 'container root copied');
    } else {
      await d.vms.writeSeed(this.svc.vmRef(rec), files);
      progress(40, snap ? `cloning the root disk from snapshot ${snap.name}` : 'cloning the root disk');
      const dr = await this.svc.storageService!.driver(from.pool);
      const caps = await dr.capabilities();
      const withSnapshots = snap !== undefined || (await dr.volumeInfo(from.volume)).snapshots > 0;
      const mode = caps.linkedClones && (!withSnapshots || caps.linkedClonesWithSnapshots) ? 'linked' : 'full';
      await dr.cloneVolume(from.volume, root.volume, { mode, ...(snap ? { fromSnapshot: snap.name } : {}) });
      r.add('root volume', () => this.svc.dropRoot(root));
      for (const n of rec.nics) {
        await d.network.createTap(n.tap, n.network, this.svc.tapOwner(rec));
        r.add(`tap ${n.tap}`, () => d.network.deleteTap(n.tap));
      }
    }
    rec.root = root;
    // The root keeps the source root's I/O limits.
    const limits = (await this.svc.storageService!.meta(from.pool, from.volume)).limits ?? NO_LIMITS;
    await this.svc.storageService!.setMeta({ pool: root.pool, name: root.volume, attachedTo: rec.name, limits: { ...limits } });
    await firewallDone;
    await d.store.put(instanceKey(rec.name), rec);
  }
}
