// Provisioning, written once for launches and copies: addresses from IPAM, the root volume (cloned from
// the image or from another instance's root), the driver's seed and root setup, and the NICs' host ends.
// Independent steps run side by side; each registers its undo on the reverter as soon as it succeeded,
// so a failure at any step leaves nothing behind (host objects and records).
import { renderSeed } from '../images/seed.js';
import { extractImageTree, imageTreeDir } from '../images/rootfs/index.js';
import type { Nic } from '../shared/api-types.js';
import { NimboError } from '../lib/errors.js';
import type { Reverter } from '../lib/reverter.js';
import { projectOfRecord, type InstanceRecord } from './instance-record.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import { tapName } from './instance-nics-plan.js';
import { NO_LIMITS } from './storage-service.js';
import type { InstanceSpec } from '../drivers/compute/instance-driver.js';
import type { IoLimits } from '../shared/storage-types.js';
import { rootVolumeOf } from './host-ids.js';
import { keys } from '../store/keys.js';

/** A NIC to make: what the request (or the copy's source NIC) asks for. */
export interface NicPlan {
  name: string;
  network: string;
  address?: string;
  securityGroups: string[];
  ingressBps?: number;
  egressBps?: number;
  hotplug?: boolean;
}

/** Where the root comes from: the image, or another instance's root volume (a copy; optionally at a snapshot). */
export type RootSource =
  | { from: 'image'; pool: string; /** The root's I/O limits (a plan's). */ limits?: IoLimits }
  | { from: 'empty'; pool: string; limits?: IoLimits }
  | { from: 'volume'; pool: string; volume: string; snapshot?: string }
  | { from: 'restore'; pool: string; fill: RootFill };

/** A root restored from a backup: block roots from a raw disk file, filesystem roots from a tree of container-id files. */
export interface RootFill {
  /** Block roots: make a raw file holding the disk (sparse), import it, then clean it up. */
  rawFile?: () => Promise<{ path: string; cleanup(): Promise<void> }>;
  /** Filesystem roots: write the tree into `dir` (an empty dir of the root volume), owners shifted to host ids from idBase. */
  tree?: (dir: string, ids: { idBase: number; idCount: number }) => Promise<void>;
  /** The small state files beside the disks (a VM's UEFI vars and TPM state) to put back, if the backup has any. */
  state?: () => Promise<{ name: string; data: Buffer }[]>;
}

/** The firewall as provisioning needs it: the new ports enter the ruleset before anything boots. */
export interface FirewallPort {
  applyFirewall(): Promise<void>;
}

/** Makes a new instance's host side from its record. */
export class InstanceProvisioner {
  constructor(private runtime: InstanceRuntime, private repo: InstanceRepo, private firewall: FirewallPort) {}

  private get d() {
    return this.runtime.d;
  }

  /** The root volume's name for a record (new records: from the UUID). */
  rootVolume(rec: InstanceRecord): string {
    return rootVolumeOf(rec.uuid);
  }

  /** Addresses, root, seed and NIC host ends of `rec` (record written as it grows); every step's undo on r. */
  async provision(rec: InstanceRecord, nics: NicPlan[], root: RootSource, r: Reverter, progress: (pct: number, msg: string) => void): Promise<void> {
    progress(10, 'allocating addresses');
    // The root does not depend on the addresses: both are made at once, then the first failure is thrown.
    const steps = await Promise.allSettled([this.makeRoot(rec, root, r), this.allocate(rec, nics, r)]);
    const failed = steps.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await this.repo.put(rec);
    // The new ports enter the ruleset while seed and NICs are made; it is in place before anything boots.
    const firewallDone = this.firewall.applyFirewall();
    firewallDone.catch(() => undefined);
    progress(30, 'seed, root and NICs');
    const driver = this.runtime.driverOf(rec);
    const spec = await this.runtime.specOf(rec);
    const ref = this.runtime.refOf(rec);
    const more = await Promise.allSettled([
      r.step('driver host objects', async () => {
        await this.prepareRoot(rec, spec, root, rec.image);
        return { value: undefined, undo: () => driver.destroy(ref, [], { path: spec.root.path }) };
      }),
      ...rec.nics.map((nic) =>
        r.step(`NIC ${nic.name} host end`, async () => {
          await driver.plugNic(spec, nic, false);
          return { value: undefined, undo: () => driver.unplugNic(spec, nic, false) };
        }),
      ),
    ]);
    const bad = more.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    await firewallDone.catch(() => undefined);
    if (bad) throw bad.reason;
    await firewallDone;
    await this.repo.put(rec);
  }

  /**
   * A new root for `rec` from image `image` in volume `volume` of `pool`, made ready by its driver (the seed is
   * written again too); every step's undo on r. The record is not written: rebuild and rescue swap roots with it.
   */
  async freshRoot(rec: InstanceRecord, image: string, pool: string, volume: string, r: Reverter, fill?: RootFill): Promise<{ pool: string; volume: string }> {
    const tmp: InstanceRecord = { ...rec, image, rescue: undefined };
    await this.makeRoot(tmp, fill ? { from: 'restore', pool, fill } : { from: 'image', pool }, r, volume);
    const driver = this.runtime.driverOf(rec);
    const spec = await this.runtime.specOf(tmp);
    await r.step('new root', async () => {
      await this.prepareRoot(rec, spec, fill ? { from: 'restore', pool, fill } : { from: 'image', pool }, image);
      return { value: undefined, undo: () => driver.removeRoot(spec, { path: spec.root.path }) };
    });
    return tmp.root!;
  }

  /**
   * The driver's seed and root for a new root: from the image (its tree as the lower dir of a filesystem
   * root), a copy, or a backup (a filesystem root filled by the driver from the backup's tree, then seeded).
   */
  private async prepareRoot(rec: InstanceRecord, spec: InstanceSpec, root: RootSource, image: string): Promise<void> {
    const driver = this.runtime.driverOf(rec);
    const seed = await this.seed(rec);
    if (root.from === 'restore' && this.runtime.caps(rec).root === 'filesystem') {
      if (!root.fill.tree || !driver.restoreFsRoot) throw new Error('a filesystem root is restored by its driver from a tree');
      await driver.restoreFsRoot(spec, root.fill.tree, (line) => this.d.log.info({ instance: rec.name }, line));
      await driver.prepare(spec, { seed, root: 'keep' });
      return;
    }
    const lowerDir = root.from === 'image' && this.runtime.caps(rec).root === 'filesystem' ? await this.imageTree(image) : undefined;
    await driver.prepare(spec, { seed, root: root.from === 'volume' ? 'copy' : 'new', ...(lowerDir ? { lowerDir } : {}) });
  }

  /** Write the instance's seed again from its record (keys, password hash, addresses): the guest applies it at its next boot. */
  async reseed(rec: InstanceRecord): Promise<void> {
    await this.runtime.driverOf(rec).prepare(await this.runtime.specOf(rec), { seed: await this.seed(rec), root: 'keep' });
  }

  /** IPAM addresses for every NIC (owner: the instance), into rec.nics. */
  private async allocate(rec: InstanceRecord, plans: NicPlan[], r: Reverter): Promise<void> {
    const project = projectOfRecord(rec);
    r.add('addresses', () => this.d.network.release(project, rec.name));
    for (const p of plans) {
      const alloc = await this.d.network.allocate(project, p.network, rec.name, p.name, rec.name, p.address);
      const nic: Nic = {
        name: p.name,
        network: p.network,
        mac: alloc.mac,
        address: alloc.ip,
        ...(alloc.ipv6 ? { ipv6: alloc.ipv6 } : {}),
        tap: tapName(this.d.config.prefix, rec.uuid, p.name),
        securityGroups: [...p.securityGroups],
        ...(p.ingressBps !== undefined ? { ingressBps: p.ingressBps } : {}),
        ...(p.egressBps !== undefined ? { egressBps: p.egressBps } : {}),
        ...(p.hotplug ? { hotplug: true } : {}),
      };
      rec.nics.push(nic);
    }
  }

  /** The root volume: a clone of the image's disk or a new filesystem volume, or a clone of another root (a copy). */
  private async makeRoot(rec: InstanceRecord, src: RootSource, r: Reverter, volume = this.rootVolume(rec)): Promise<void> {
    const caps = this.runtime.caps(rec);
    const project = projectOfRecord(rec);
    const root = { pool: src.pool, volume };
    const host = (v: string) => this.d.storage.hostVolume(project, v);
    const dr = await this.d.storage.driver(root.pool);
    const poolCaps = await dr.capabilities();
    let limits = { ...NO_LIMITS, ...(src.from === 'image' || src.from === 'empty' ? src.limits : {}) };
    if (src.from === 'restore') {
      if (caps.root === 'filesystem') await dr.createVolume({ name: host(root.volume), kind: 'filesystem', sizeBytes: rec.disk });
      else {
        if (!src.fill.rawFile) throw new Error('a block root is restored from a raw file');
        const raw = await src.fill.rawFile();
        try {
          await dr.importVolume(raw.path, 'raw', host(root.volume));
        } finally {
          await raw.cleanup();
        }
      }
    } else if (src.from === 'volume') {
      const withSnapshots = src.snapshot !== undefined || (await dr.volumeInfo(host(src.volume))).snapshots > 0;
      const linked = caps.root === 'filesystem' ? poolCaps.filesystemLinkedClones : poolCaps.linkedClones && (!withSnapshots || poolCaps.linkedClonesWithSnapshots);
      await dr.cloneVolume(host(src.volume), host(root.volume), { mode: linked ? 'linked' : 'full', ...(src.snapshot ? { fromSnapshot: src.snapshot } : {}) });
      // The copy's root keeps the source root's I/O limits.
      limits = { ...NO_LIMITS, ...(await this.d.storage.meta(project, src.pool, src.volume)).limits };
    } else if (caps.root === 'filesystem') {
      await dr.createVolume({ name: host(root.volume), kind: 'filesystem', sizeBytes: rec.disk });
    } else if (src.from === 'empty') {
      // An install from an ISO: an empty (thin) disk of the asked size.
      await dr.createVolume({ name: host(root.volume), kind: 'block', sizeBytes: rec.disk });
    } else {
      const img = await this.d.images.ready(rec.image);
      await dr.cloneFromImage(img.disk, img.format, host(root.volume), rec.disk);
    }
    r.add('root volume', () => this.dropRoot(project, root));
    rec.root = root;
    await this.d.storage.setMeta(project, { pool: root.pool, name: root.volume, attachedTo: rec.name, limits });
  }

  /** Delete an instance's root volume and its metadata. */
  async dropRoot(project: string, root: { pool: string; volume: string }): Promise<void> {
    await (await this.d.storage.driver(root.pool)).deleteVolume(this.d.storage.hostVolume(project, root.volume)).catch((e: unknown) => {
      if (!(e instanceof NimboError && e.code === 'NotFound')) throw e; // gone already: a delete run again after a failure
    });
    await this.d.store.delete(keys.volumeMeta(project, root.pool, root.volume));
  }

  /** The unpacked tree of an image (the overlay's lower dir of a filesystem root). */
  private async imageTree(image: string): Promise<string> {
    const img = await this.d.images.ready(image);
    if (img.oci) return img.oci.rootfs;
    return (await extractImageTree(this.d.exec, { disk: img.disk, format: img.format as 'qcow2' | 'raw' }, imageTreeDir(img))).root;
  }

  /** The cloud-init NoCloud files: hostname, keys, addresses; the default route through the first NIC unless its network is isolated. */
  async seed(rec: InstanceRecord): Promise<Record<string, string>> {
    const nets = new Map((await this.d.network.records(projectOfRecord(rec))).map((n) => [n.name, n]));
    return renderSeed({
      instanceId: rec.uuid,
      hostname: rec.name,
      sshKeys: rec.sshKeys,
      ...(rec.userData !== undefined ? { userData: rec.userData } : {}),
      ...(rec.vendorData !== undefined ? { vendorData: rec.vendorData } : {}),
      ...(rec.passwordHash ? { passwordHash: rec.passwordHash } : {}),
      nics: rec.nics.map((n, i) => {
        const net = nets.get(n.network)!;
        return { mac: n.mac, address: n.address, ...(i === 0 && net.mode !== 'isolated' ? { gateway: net.gateway } : {}), dns: [net.gateway] };
      }),
    });
  }
}
