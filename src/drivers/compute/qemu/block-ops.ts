import { conflict, notFound } from '../../../lib/errors.js';
import { diskDeviceId, diskNodeNames } from './argv.js';
import {
  checkResize, deviceAddArgs, fileNodeArgs, formatNodeArgs, hotplugPortUse, pickHotplugPort, resizeArgs, throttleArgs,
  validateHotplugDisk, type HotplugDisk, type PciDeviceInfo, type ThrottleLimits,
} from './block-args.js';
import { parseQueryBlock, type AttachedDisk, type BlockInfo } from './block-info.js';
import { QmpError, type QmpClient } from './qmp.js';
import { unplugDevice } from './device-unplug.js';

/** Default wait for the guest to release a hot-unplugged disk. */
export const DETACH_TIMEOUT_MS = 30_000;

/** What attachDisk did: the device and the root port it sits on. */
export interface AttachResult {
  id: string;
  qdevId: string;
  nodeName: string;
  port: string;
}

async function portUse(qmp: QmpClient): Promise<Map<string, string[]>> {
  return hotplugPortUse(await qmp.execute<{ bus: number; devices: PciDeviceInfo[] }[]>('query-pci'));
}

async function nodeNames(qmp: QmpClient): Promise<Set<string>> {
  const nodes = await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
  return new Set(nodes.map((n) => n['node-name']));
}

/** Every disk of the running VM (query-block + the hot-plug ports from query-pci). */
export async function listDisks(qmp: QmpClient): Promise<AttachedDisk[]> {
  const use = await portUse(qmp);
  return parseQueryBlock(await qmp.execute<BlockInfo[]>('query-block'), use);
}

/** One attached disk by id; NotFound when it is not attached. */
export async function getDisk(qmp: QmpClient, id: string): Promise<AttachedDisk> {
  const d = (await listDisks(qmp)).find((x) => x.id === id);
  if (!d) throw notFound(`disk ${id} (not attached to this VM)`);
  return d;
}

/** blockdev-del of those of the named nodes that exist (top first); returns how many there were. */
async function deleteNodes(qmp: QmpClient, names: string[]): Promise<number> {
  const have = await nodeNames(qmp);
  const present = names.filter((n) => have.has(n));
  for (const n of present) await qmp.execute('blockdev-del', { 'node-name': n });
  return present.length;
}

/**
 * Hot-plug a disk: blockdev-add (file node, then format node; argv.ts's node names), then
 * device_add virtio-blk-pci on a free hot-plug root port, then its I/O limits. Rolls back on
 * failure. The image must already be readable (and writable unless readOnly) by QEMU's user.
 */
export async function attachDisk(qmp: QmpClient, spec: HotplugDisk): Promise<AttachResult> {
  validateHotplugDisk(spec);
  const names = diskNodeNames(spec.id);
  const qdevId = diskDeviceId(spec.id);
  const use = await portUse(qmp);
  const disks = parseQueryBlock(await qmp.execute<BlockInfo[]>('query-block'), use);
  if ([...use.values()].some((devs) => devs.includes(qdevId)) || disks.some((d) => d.id === spec.id)) {
    throw conflict(`disk ${spec.id} is already attached`);
  }
  const have = await nodeNames(qmp);
  if (have.has(names.file) || have.has(names.format)) {
    throw conflict(`block nodes of disk ${spec.id} are left from an earlier attach; detach it first to clean them up`);
  }
  const port = pickHotplugPort(use, spec.port);
  const added: string[] = [];
  try {
    await qmp.execute('blockdev-add', fileNodeArgs(spec));
    added.unshift(names.file);
    await qmp.execute('blockdev-add', formatNodeArgs(spec));
    added.unshift(names.format);
    await qmp.execute('device_add', deviceAddArgs(spec.id, port));
  } catch (e) {
    await deleteNodes(qmp, added).catch(() => {});
    throw e;
  }
  if (spec.throttle) {
    try {
      await setThrottle(qmp, spec.id, spec.throttle);
    } catch (e) {
      await detachDisk(qmp, spec.id).catch(() => {});
      throw e;
    }
  }
  return { id: spec.id, qdevId, nodeName: names.format, port };
}

/**
 * Hot-unplug a disk: device_del, wait for DEVICE_DELETED (the guest must release the device),
 * then blockdev-del its nodes. Idempotent: a disk whose device is already gone only has its
 * nodes removed. On Timeout the unplug request stays pending in the guest; call again to wait more.
 */
export async function detachDisk(qmp: QmpClient, id: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const qdevId = diskDeviceId(id);
  const names = diskNodeNames(id);
  const timeoutMs = opts.timeoutMs ?? DETACH_TIMEOUT_MS;
  const gone = await unplugDevice(qmp, qdevId, `disk ${id}`, timeoutMs, `disk ${id} was attached at VM start (not hot-plugged) and cannot be detached while the VM runs`);
  const removed = await deleteNodes(qmp, [names.format, names.file]);
  if (gone && removed === 0) throw notFound(`disk ${id} (not attached to this VM)`);
}

/** Grow a disk online (block_resize on its format node); shrinking is refused. Returns the new size. */
export async function resizeDisk(qmp: QmpClient, id: string, bytes: number): Promise<number> {
  const d = await getDisk(qmp, id);
  if (d.readOnly) throw conflict(`disk ${id} is read-only and cannot be resized`);
  if (!checkResize(id, d.virtualSize, bytes)) return bytes;
  await qmp.execute('block_resize', resizeArgs(id, bytes));
  return bytes;
}

/** Set a disk's I/O limits live (block_set_io_throttle); 0 = unlimited, all four are replaced. */
export async function setThrottle(qmp: QmpClient, id: string, limits: ThrottleLimits): Promise<void> {
  const args = throttleArgs(id, limits); // validates first
  try {
    await qmp.execute('block_set_io_throttle', args);
  } catch (e) {
    if (e instanceof QmpError && (e.qmpClass === 'DeviceNotFound' || /not found/i.test(e.desc))) throw notFound(`disk ${id} (not attached to this VM)`);
    throw e;
  }
}
