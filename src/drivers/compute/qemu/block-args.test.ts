import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderQemuArgv } from './argv.js';
import {
  checkResize, deviceAddArgs, diskBackendPath, diskIdOfQdev, fileNodeArgs, formatNodeArgs, hotplugPorts, hotplugPortUse,
  pickHotplugPort, resizeArgs, throttleArgs, validateHotplugDisk, type HotplugDisk,
} from './block-args.js';
import { parseQueryBlock } from './block-info.js';
import type { VmSpec } from '../types.js';

const data: HotplugDisk = { id: 'qb-data', path: '/var/lib/nimbo/pools/default/qb,data.qcow2', format: 'qcow2' };

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

test('golden: blockdev-add/device_add arguments of a hot-plugged disk', () => {
  assert.deepEqual(fileNodeArgs(data), { driver: 'file', 'node-name': 'f-qb-data', filename: '/var/lib/nimbo/pools/default/qb,data.qcow2', 'read-only': false, discard: 'unmap' });
  assert.deepEqual(formatNodeArgs(data), { driver: 'qcow2', 'node-name': 'd-qb-data', file: 'f-qb-data', 'read-only': false, discard: 'unmap' });
  assert.deepEqual(formatNodeArgs({ ...data, format: 'raw', readOnly: true }), { driver: 'raw', 'node-name': 'd-qb-data', file: 'f-qb-data', 'read-only': true, discard: 'unmap' });
  assert.deepEqual(deviceAddArgs('qb-data', 'hotplug2'), { driver: 'virtio-blk-pci', id: 'disk-qb-data', drive: 'd-qb-data', bus: 'hotplug2' });
  const long = 'a'.repeat(40); // node names are hashed past 28 characters, as in argv.ts
  assert.match(String(fileNodeArgs({ ...data, id: long })['node-name']), /^f-h[0-9a-f]{16}$/);
  assert.equal(deviceAddArgs(long, 'hotplug0').drive, formatNodeArgs({ ...data, id: long })['node-name']);
});

test('hot-plugged nodes are named and shaped exactly like argv.ts cold-plugs them', () => {
  const spec: VmSpec = {
    name: 'qb', uuid: '00000000-0000-4000-8000-0000000000b1', cpus: 1, memoryMiB: 64, accelerator: 'tcg', boot: { kind: 'disk' },
    disks: [{ id: data.id, path: data.path, format: 'qcow2' }], nics: [], runDir: '/run/qb',
  };
  const argv = renderQemuArgv(spec);
  const blockdevs = argv.flatMap((a, i) => (argv[i - 1] === '-blockdev' ? [JSON.parse(a)] : []));
  assert.deepEqual(blockdevs, [fileNodeArgs(data), formatNodeArgs(data)]);
  const ports = argv.filter((a) => a.startsWith('pcie-root-port,')).map((a) => /id=([^,]+)/.exec(a)![1]);
  assert.deepEqual(ports, hotplugPorts());
});

test('golden: block_set_io_throttle and block_resize arguments', () => {
  assert.deepEqual(throttleArgs('qb-data', { iops_rd: 100, bps_wr: 1_000_000 }), {
    id: '/machine/peripheral/disk-qb-data/virtio-backend', bps: 0, bps_rd: 0, bps_wr: 1_000_000, iops: 0, iops_rd: 100, iops_wr: 0,
  });
  assert.deepEqual(throttleArgs('qb-data', {}), { id: diskBackendPath('qb-data'), bps: 0, bps_rd: 0, bps_wr: 0, iops: 0, iops_rd: 0, iops_wr: 0 });
  for (const bad of [-1, 1.5, 2e15, Number.NaN]) assert.throws(() => throttleArgs('x', { iops_wr: bad }), code('InvalidArgument'));
  assert.deepEqual(resizeArgs('qb-data', 64 << 20), { 'node-name': 'd-qb-data', size: 67108864 });
});

test('resize is grow-only and sector-aligned', () => {
  assert.equal(checkResize('d', 1024, 2048), true);
  assert.equal(checkResize('d', 2048, 2048), false);
  assert.throws(() => checkResize('d', 4096, 2048), /shrinking is refused/);
  for (const bad of [0, -512, 1000, 1.5, 2 ** 60]) assert.throws(() => checkResize('d', 0, bad), code('InvalidArgument'));
});

test('hot-plug disk validation', () => {
  validateHotplugDisk(data);
  assert.throws(() => validateHotplugDisk({ ...data, id: '../x' }), /invalid disk id/);
  assert.throws(() => validateHotplugDisk({ ...data, path: 'rel.qcow2' }), /absolute path/);
  assert.throws(() => validateHotplugDisk({ ...data, format: 'vmdk' as 'raw' }), /unknown format/);
  assert.throws(() => validateHotplugDisk({ ...data, port: 'pcie.0' }), /unknown hot-plug port/);
  assert.throws(() => validateHotplugDisk({ ...data, throttle: { bps_rd: -5 } }), /throttle bps_rd/);
});

// Shape of QEMU 7.2's query-pci on a nimbo VM (trimmed): disk-qb-data sits behind hotplug0.
const PCI = [{
  bus: 0,
  devices: [
    { bus: 0, slot: 0, qdev_id: '' },
    { bus: 0, slot: 11, qdev_id: 'disk-root' },
    { bus: 0, slot: 27, qdev_id: 'hotplug0', pci_bridge: { devices: [{ bus: 1, slot: 0, qdev_id: 'disk-qb-data' }] } },
    { bus: 0, slot: 28, qdev_id: 'hotplug1', pci_bridge: { devices: [] } },
    { bus: 0, slot: 29, qdev_id: 'hotplug2', pci_bridge: { devices: [] } },
    { bus: 0, slot: 30, qdev_id: 'hotplug3', pci_bridge: { devices: [{ bus: 4, slot: 0, qdev_id: 'disk-b' }] } },
  ],
}];

test('free hot-plug port from query-pci', () => {
  const use = hotplugPortUse(PCI);
  assert.deepEqual([...use], [['hotplug0', ['disk-qb-data']], ['hotplug1', []], ['hotplug2', []], ['hotplug3', ['disk-b']]]);
  assert.equal(pickHotplugPort(use), 'hotplug1');
  assert.equal(pickHotplugPort(use, 'hotplug2'), 'hotplug2');
  assert.throws(() => pickHotplugPort(use, 'hotplug0'), /in use by disk-qb-data/);
  const full = new Map([...use].map(([p]) => [p, ['x']]));
  assert.throws(() => pickHotplugPort(full), (e: unknown) => code('Conflict')(e) && /no free hot-plug port: all 4/.test((e as Error).message));
});

test('query-block → attached disks (ids from qdev paths, throttle, snapshots, ports)', () => {
  assert.equal(diskIdOfQdev('/machine/peripheral/disk-qb-data/virtio-backend'), 'qb-data');
  assert.equal(diskIdOfQdev('disk-root'), 'root');
  assert.equal(diskIdOfQdev('/machine/peripheral-anon/device[3]/virtio-backend'), undefined);
  const disks = parseQueryBlock([
    { device: '', qdev: '/machine/peripheral/disk-root/virtio-backend', inserted: { 'node-name': 'd-root', drv: 'qcow2', file: '/p/root.qcow2', ro: false,
      iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0, image: { 'virtual-size': 268435456,
        snapshots: [{ id: '1', name: 'qb-s1', 'vm-state-size': 82309188, 'date-sec': 1795845390, 'vm-clock-sec': 7, 'vm-clock-nsec': 899132800 }] } } },
    { device: '', qdev: '/machine/peripheral/disk-qb-data/virtio-backend', inserted: { 'node-name': 'd-qb-data', drv: 'raw', file: '/p/d.raw', ro: true,
      iops_rd: 100, iops_wr: 0, bps_rd: 0, bps_wr: 1000000, image: { 'virtual-size': 33554432 } } },
    { device: 'cd0', qdev: 'cd0' },
  ], hotplugPortUse(PCI));
  assert.deepEqual(disks, [
    { id: 'root', qdev: '/machine/peripheral/disk-root/virtio-backend', nodeName: 'd-root', format: 'qcow2', path: '/p/root.qcow2', readOnly: false,
      virtualSize: 268435456, throttle: { iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0 }, port: undefined,
      snapshots: [{ name: 'qb-s1', snapshotId: '1', vmStateSize: 82309188, dateSec: 1795845390, vmClockNs: 7899132800 }] },
    { id: 'qb-data', qdev: '/machine/peripheral/disk-qb-data/virtio-backend', nodeName: 'd-qb-data', format: 'raw', path: '/p/d.raw', readOnly: true,
      virtualSize: 33554432, throttle: { iops_rd: 100, iops_wr: 0, bps_rd: 0, bps_wr: 1000000 }, port: 'hotplug0', snapshots: [] },
  ]);
});
