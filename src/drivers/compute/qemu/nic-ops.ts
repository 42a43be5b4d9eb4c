import { conflict, invalid, NimboError, notFound } from '../../../lib/errors.js';
import { nicDeviceId, nicNetdevId, validateNic } from './argv.js';
import { hotplugPorts, hotplugPortUse, pickHotplugPort, type PciDeviceInfo } from './block-args.js';
import { QmpError, type QmpClient } from './qmp.js';
import { unplugDevice } from './device-unplug.js';

/** Default wait for the guest to release a hot-unplugged NIC. */
export const NIC_DETACH_TIMEOUT_MS = 30_000;

/**
 * A NIC to hot-plug into a running VM. The tap must exist already and QEMU must be able to
 * open it after dropping privileges: create it owned by QEMU's user (`ip tuntap add dev TAP
 * mode tap vnet_hdr user nimbo-qemu`), and leave it unused by any other process.
 */
export interface HotplugNic {
  id: string;
  tap: string;
  mac: string;
  /** Root port to use (hotplug0..); default: the first free one (ports are shared with disks). */
  port?: string;
}

/** What attachNic did: the device, its tap backend and the root port it sits on. */
export interface NicAttachResult {
  id: string;
  qdevId: string;
  netdevId: string;
  port: string;
}

/** A NIC of the running VM (a virtio-net-pci device). */
export interface AttachedNic {
  /** nimbo NIC id (from the `nic-<id>` device), or the qdev id of a foreign device. */
  id: string;
  qdevId: string;
  /** MAC address, lower case. */
  mac: string;
  /** netdev (tap backend) id; undefined if the device has none. */
  netdev?: string;
  /** Hot-plug root port it sits on; undefined when cold-plugged (fixed slot on pcie.0). */
  port?: string;
}

/** NIC id of a qdev id, or undefined when it is not a nimbo NIC. */
export function nicIdOfQdev(qdev: string): string | undefined {
  return /^nic-(.+)$/.exec(qdev)?.[1];
}

/** Throws InvalidArgument unless `spec` is a valid hot-plug NIC. */
export function validateHotplugNic(spec: HotplugNic): void {
  validateNic(spec);
  if (spec.port !== undefined && !hotplugPorts().includes(spec.port)) {
    throw invalid(`unknown hot-plug port ${JSON.stringify(spec.port)} (have ${hotplugPorts().join(', ')})`);
  }
}

/**
 * netdev_add arguments of a NIC's tap backend: the same options as argv.ts's -netdev (no
 * helper scripts; vhost off; vnet_hdr unset, so QEMU uses it when the kernel's tap offers it).
 */
export function netdevAddArgs(n: Pick<HotplugNic, 'id' | 'tap'>): Record<string, unknown> {
  return { type: 'tap', id: nicNetdevId(n.id), ifname: n.tap, script: 'no', downscript: 'no' };
}

/** device_add arguments of a NIC's virtio-net-pci device on a hot-plug root port (argv.ts's -device, other bus). */
export function nicDeviceAddArgs(n: Pick<HotplugNic, 'id' | 'mac'>, port: string): Record<string, unknown> {
  // romfile "": no iPXE option ROM, as for cold-plugged NICs.
  return { driver: 'virtio-net-pci', netdev: nicNetdevId(n.id), id: nicDeviceId(n.id), mac: n.mac.toLowerCase(), bus: port, romfile: '' };
}

/** Root port of a device from its QOM `parent_bus` (a root port's bus has the port's id as its name). */
function portOfBus(parentBus: string): string | undefined {
  const name = parentBus.split('/').pop() ?? '';
  return hotplugPorts().includes(name) ? name : undefined;
}

/** A device with an id (a child of /machine/peripheral): its QOM type and the hot-plug port it sits on. */
interface Peripheral {
  qdevId: string;
  type: string;
  port?: string;
}

/**
 * Every device with an id, from QOM. Unlike query-pci, QOM shows what sits behind a hot-plug
 * port before the guest has numbered the port's bus (e.g. right after a start with -S + cont).
 */
async function peripherals(qmp: QmpClient): Promise<Peripheral[]> {
  const children = await qmp.execute<{ name: string; type: string }[]>('qom-list', { path: '/machine/peripheral' });
  const devs = children
    .map((c) => ({ qdevId: c.name, type: /^child<(.+)>$/.exec(c.type)?.[1] }))
    .filter((c): c is { qdevId: string; type: string } => c.type !== undefined && c.type !== 'pcie-root-port');
  return Promise.all(devs.map(async (d) => {
    const bus = await qmp.execute<string>('qom-get', { path: `/machine/peripheral/${d.qdevId}`, property: 'parent_bus' }).catch(() => '');
    const port = portOfBus(bus);
    return { ...d, ...(port ? { port } : {}) };
  }));
}

/** The NICs among `periph`, cold-plugged first (PCI order), then hot-plugged (port order). */
async function nicsOf(qmp: QmpClient, periph: Peripheral[]): Promise<AttachedNic[]> {
  const get = <T>(dev: string, property: string) => qmp.execute<T>('qom-get', { path: `/machine/peripheral/${dev}`, property });
  const nics = await Promise.all(periph.filter((p) => p.type === 'virtio-net-pci').map(async ({ qdevId, port }) => {
    const [mac, netdev, addr] = await Promise.all([get<string>(qdevId, 'mac'), get<string>(qdevId, 'netdev'), get<number>(qdevId, 'addr')]);
    const nic: AttachedNic = { id: nicIdOfQdev(qdevId) ?? qdevId, qdevId, mac: mac.toLowerCase(), ...(netdev ? { netdev } : {}), ...(port ? { port } : {}) };
    return { nic, key: port === undefined ? addr : 0x10000 + hotplugPorts().indexOf(port) };
  }));
  return nics.sort((a, b) => a.key - b.key).map((n) => n.nic);
}

/**
 * Every NIC (virtio-net-pci device) of the running VM, cold-plugged first (PCI order), then
 * hot-plugged (port order). Read from QOM, so hot-plugged NICs are listed even before the
 * guest has enumerated their ports.
 */
export async function listNics(qmp: QmpClient): Promise<AttachedNic[]> {
  return nicsOf(qmp, await peripherals(qmp));
}

/** One attached NIC by id; NotFound when it is not attached. */
export async function getNic(qmp: QmpClient, id: string): Promise<AttachedNic> {
  const n = (await listNics(qmp)).find((x) => x.id === id);
  if (!n) throw notFound(`NIC ${id} (not attached to this VM)`);
  return n;
}

/** The netdev_add error as a clear nimbo error (tap missing/not ours, tap busy, leftover netdev). */
function netdevAddError(spec: HotplugNic, e: unknown): unknown {
  if (!(e instanceof QmpError)) return e;
  const netdevId = nicNetdevId(spec.id);
  if (/Duplicate ID/i.test(e.desc)) {
    return new NimboError('Conflict', `netdev ${netdevId} of NIC ${spec.id} is left from an earlier attach; detach the NIC first to clean it up`, undefined, e);
  }
  if (/resource busy/i.test(e.desc)) return new NimboError('Conflict', `tap ${spec.tap} is already in use (by this or another VM)`, undefined, e);
  if (/not permitted|permission denied/i.test(e.desc)) {
    return new NimboError('HostCommandFailed',
      `QEMU cannot open tap ${spec.tap}: it must exist and belong to QEMU's user (ip tuntap add dev ${spec.tap} mode tap vnet_hdr user USER) (${e.desc})`,
      { tap: spec.tap }, e);
  }
  return e;
}

/**
 * Hot-plug a NIC: netdev_add (tap backend, as argv.ts's -netdev), then device_add
 * virtio-net-pci on a free hot-plug root port (shared with hot-plugged disks). The netdev is
 * removed again when device_add fails.
 */
export async function attachNic(qmp: QmpClient, spec: HotplugNic): Promise<NicAttachResult> {
  validateHotplugNic(spec);
  const qdevId = nicDeviceId(spec.id);
  const netdevId = nicNetdevId(spec.id);
  const periph = await peripherals(qmp);
  const nics = await nicsOf(qmp, periph);
  if (nics.some((n) => n.id === spec.id || n.qdevId === qdevId)) throw conflict(`NIC ${spec.id} is already attached`);
  const sameMac = nics.find((n) => n.mac === spec.mac.toLowerCase());
  if (sameMac) throw conflict(`MAC ${spec.mac.toLowerCase()} is already used by NIC ${sameMac.id}`);
  const use = hotplugPortUse(await qmp.execute<{ bus: number; devices: PciDeviceInfo[] }[]>('query-pci'));
  // QOM knows hot-plugged devices (disks too) even where query-pci cannot see behind a port yet.
  for (const p of periph) if (p.port !== undefined && use.get(p.port)?.includes(p.qdevId) === false) use.get(p.port)!.push(p.qdevId);
  if (spec.port === undefined && ![...use.values()].some((devs) => devs.length === 0)) {
    throw conflict(`no free hot-plug port for NIC ${spec.id}: all ${use.size} are in use by hot-plugged disks and NICs (detach one first)`);
  }
  const port = pickHotplugPort(use, spec.port);
  try {
    await qmp.execute('netdev_add', netdevAddArgs(spec));
  } catch (e) {
    throw netdevAddError(spec, e);
  }
  try {
    await qmp.execute('device_add', nicDeviceAddArgs(spec, port));
  } catch (e) {
    await qmp.execute('netdev_del', { id: netdevId }).catch(() => {});
    throw e;
  }
  return { id: spec.id, qdevId, netdevId, port };
}

/**
 * Hot-unplug a NIC: device_del, wait for DEVICE_DELETED (the guest must release the device),
 * then netdev_del (which closes the tap). Idempotent: a NIC whose device is already gone only
 * has its netdev removed. A NIC given at VM start (on pcie.0) cannot be removed while the VM
 * runs: Conflict. On Timeout the unplug request stays pending in the guest; call again to wait more.
 */
export async function detachNic(qmp: QmpClient, id: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const qdevId = nicDeviceId(id);
  const netdevId = nicNetdevId(id);
  const timeoutMs = opts.timeoutMs ?? NIC_DETACH_TIMEOUT_MS;
  const coldMsg = `NIC ${id} was attached at VM start (not hot-plugged) and cannot be detached while the VM runs`;
  const nic = (await listNics(qmp)).find((n) => n.qdevId === qdevId);
  if (nic && nic.port === undefined) throw conflict(coldMsg);
  const gone = await unplugDevice(qmp, qdevId, `NIC ${id}`, timeoutMs, coldMsg);
  try {
    await qmp.execute('netdev_del', { id: netdevId });
  } catch (e) {
    if (!(e instanceof QmpError && e.qmpClass === 'DeviceNotFound')) throw e;
    if (gone) throw notFound(`NIC ${id} (not attached to this VM)`);
  }
}
