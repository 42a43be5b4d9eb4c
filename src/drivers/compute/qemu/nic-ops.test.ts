import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderQemuArgv } from './argv.js';
import { hotplugPortUse, pickHotplugPort } from './block-args.js';
import { FakeNicQemu } from './fake-qmp-nic.js';
import { attachNic, detachNic, getNic, listNics, netdevAddArgs, nicDeviceAddArgs, nicIdOfQdev, validateHotplugNic } from './nic-ops.js';
import { QmpClient } from './qmp.js';
import type { VmSpec } from '../types.js';

const code = (c: string, re?: RegExp) => (e: unknown) => (e as { code?: string }).code === c && (!re || re.test((e as Error).message));

/** A fake QEMU with one cold NIC (eth0 on tap qn-cold), and a connected client; `done` closes both. */
async function setup(): Promise<{ fake: FakeNicQemu; qmp: QmpClient; done: () => void; mutations: () => string[] }> {
  const fake = new FakeNicQemu();
  fake.coldNic('eth0', 'qn-cold', '52:54:00:00:00:01');
  for (let i = 0; i < 10; i++) fake.taps.add(`qn-tap${i}`);
  const srv = await fake.listen();
  const qmp = await QmpClient.connect(srv.path);
  return {
    fake, qmp,
    done: () => { qmp.close(); srv.stop(); },
    mutations: () => fake.calls.filter((c) => !c.cmd.startsWith('query-') && !c.cmd.startsWith('qom-')).map((c) => `${c.cmd} ${JSON.stringify(c.args ?? {})}`),
  };
}

const nic = (i: number, port?: string) => ({ id: `n${i}`, tap: `qn-tap${i}`, mac: `52:54:00:00:01:${String(i).padStart(2, '0')}`, ...(port ? { port } : {}) });

test('golden: netdev_add/device_add arguments match the cold-plug argv (bus aside)', () => {
  const n = { id: 'eth1', tap: 'nmb-tap1', mac: '52:54:00:AB:CD:02' };
  assert.deepEqual(netdevAddArgs(n), { type: 'tap', id: 'net-eth1', ifname: 'nmb-tap1', script: 'no', downscript: 'no' });
  assert.deepEqual(nicDeviceAddArgs(n, 'hotplug5'), {
    driver: 'virtio-net-pci', netdev: 'net-eth1', id: 'nic-eth1', mac: '52:54:00:ab:cd:02', bus: 'hotplug5', romfile: '',
  });
  const spec: VmSpec = {
    name: 'qn', uuid: '00000000-0000-4000-8000-0000000000c1', cpus: 1, memoryMiB: 64, accelerator: 'tcg', boot: { kind: 'disk' },
    disks: [{ id: 'root', path: '/p/root.raw', format: 'raw' }], nics: [n], runDir: '/run/qn',
  };
  const argv = renderQemuArgv(spec);
  // QemuOpts → object: the first bare word is the type/driver, `k=v` pairs follow.
  const opts = (s: string, first: string) => Object.fromEntries(s.split(',').map((kv, i) => (i === 0 ? [first, kv] : kv.split('=') as [string, string])));
  const netdev = opts(argv[argv.indexOf('-netdev') + 1]!, 'type');
  const dev = opts(argv.find((a) => a.startsWith('virtio-net-pci,'))!, 'driver');
  assert.deepEqual(netdev, netdevAddArgs(n));
  assert.deepEqual({ ...dev, bus: 'hotplug5', addr: undefined }, { ...nicDeviceAddArgs(n, 'hotplug5'), addr: undefined });
  assert.equal(dev.bus, 'pcie.0');
});

test('hot-plug NIC validation', () => {
  validateHotplugNic(nic(1));
  validateHotplugNic(nic(1, 'hotplug7'));
  assert.throws(() => validateHotplugNic({ ...nic(1), id: '../x' }), code('InvalidArgument', /invalid NIC id/));
  assert.throws(() => validateHotplugNic({ ...nic(1), tap: 'tap,x' }), code('InvalidArgument', /invalid tap name/));
  assert.throws(() => validateHotplugNic({ ...nic(1), mac: 'nope' }), code('InvalidArgument', /invalid MAC/));
  assert.throws(() => validateHotplugNic(nic(1, 'hotplug8')), code('InvalidArgument', /unknown hot-plug port/));
  assert.throws(() => validateHotplugNic(nic(1, 'pcie.0')), code('InvalidArgument', /unknown hot-plug port/));
  assert.equal(nicIdOfQdev('nic-eth0'), 'eth0');
  assert.equal(nicIdOfQdev('disk-eth0'), undefined);
});

test('attach: netdev then device on the first free port (shared with disks); list and detach', async () => {
  const s = await setup();
  try {
    s.fake.hotDisk('data', 'hotplug0');
    const r = await attachNic(s.qmp, nic(1));
    assert.deepEqual(r, { id: 'n1', qdevId: 'nic-n1', netdevId: 'net-n1', port: 'hotplug1' });
    assert.equal((await attachNic(s.qmp, nic(2, 'hotplug6'))).port, 'hotplug6');
    assert.equal((await attachNic(s.qmp, nic(3))).port, 'hotplug2');
    assert.deepEqual(await listNics(s.qmp), [
      { id: 'eth0', qdevId: 'nic-eth0', mac: '52:54:00:00:00:01', netdev: 'net-eth0' },
      { id: 'n1', qdevId: 'nic-n1', mac: '52:54:00:00:01:01', netdev: 'net-n1', port: 'hotplug1' },
      { id: 'n3', qdevId: 'nic-n3', mac: '52:54:00:00:01:03', netdev: 'net-n3', port: 'hotplug2' },
      { id: 'n2', qdevId: 'nic-n2', mac: '52:54:00:00:01:02', netdev: 'net-n2', port: 'hotplug6' },
    ]);
    assert.equal((await getNic(s.qmp, 'n2')).port, 'hotplug6');
    await assert.rejects(getNic(s.qmp, 'nope'), code('NotFound'));
    s.fake.log.length = 0;
    await detachNic(s.qmp, 'n1');
    // netdev_del only once the guest released the device (DEVICE_DELETED).
    assert.deepEqual(s.fake.log.filter((l) => !l.startsWith('cmd qom-') && !l.startsWith('cmd query-')), [
      'cmd device_del',
      'event DEVICE_DELETED /machine/peripheral/nic-n1/virtio-backend',
      'event DEVICE_DELETED nic-n1',
      'cmd netdev_del',
    ]);
    assert.deepEqual(s.mutations(), [
      'netdev_add {"type":"tap","id":"net-n1","ifname":"qn-tap1","script":"no","downscript":"no"}',
      'device_add {"driver":"virtio-net-pci","netdev":"net-n1","id":"nic-n1","mac":"52:54:00:00:01:01","bus":"hotplug1","romfile":""}',
      'netdev_add {"type":"tap","id":"net-n2","ifname":"qn-tap2","script":"no","downscript":"no"}',
      'device_add {"driver":"virtio-net-pci","netdev":"net-n2","id":"nic-n2","mac":"52:54:00:00:01:02","bus":"hotplug6","romfile":""}',
      'netdev_add {"type":"tap","id":"net-n3","ifname":"qn-tap3","script":"no","downscript":"no"}',
      'device_add {"driver":"virtio-net-pci","netdev":"net-n3","id":"nic-n3","mac":"52:54:00:00:01:03","bus":"hotplug2","romfile":""}',
      'device_del {"id":"nic-n1"}',
      'netdev_del {"id":"net-n1"}',
    ]);
    assert.deepEqual((await listNics(s.qmp)).map((n) => n.id), ['eth0', 'n3', 'n2']);
    assert.equal(s.fake.netdevs.has('net-n1'), false);
    // The freed port is reused; the same id and tap can be attached again.
    assert.equal((await attachNic(s.qmp, nic(1))).port, 'hotplug1');
  } finally {
    s.done();
  }
});

test('attach refuses duplicates, a used MAC, busy/foreign taps, leftovers and full ports; rolls back the netdev when device_add fails', async () => {
  const s = await setup();
  try {
    await assert.rejects(attachNic(s.qmp, { ...nic(1), id: 'eth0' }), code('Conflict', /NIC eth0 is already attached/));
    await assert.rejects(attachNic(s.qmp, { ...nic(1), mac: '52:54:00:00:00:01' }), code('Conflict', /MAC 52:54:00:00:00:01 is already used by NIC eth0/));
    await assert.rejects(attachNic(s.qmp, { ...nic(1), tap: 'qn-cold' }), code('Conflict', /tap qn-cold is already in use/));
    await assert.rejects(attachNic(s.qmp, { ...nic(1), tap: 'qn-other' }), code('HostCommandFailed', /belong to QEMU's user/));
    s.fake.netdevs.set('net-n9', { ifname: 'qn-tap9' });
    await assert.rejects(attachNic(s.qmp, nic(9)), code('Conflict', /left from an earlier attach/));
    await detachNic(s.qmp, 'n9'); // cleans the leftover netdev up (no device: nothing to wait for)
    assert.equal(s.fake.netdevs.has('net-n9'), false);
    assert.deepEqual(s.mutations().slice(-2), ['device_del {"id":"nic-n9"}', 'netdev_del {"id":"net-n9"}']);

    // device_add fails: the netdev it needed is removed again and the tap is free for a retry.
    s.fake.failing.set('device_add', "Bus 'hotplug0' does not support hotplugging");
    await assert.rejects(attachNic(s.qmp, nic(1)), /does not support hotplugging/);
    assert.deepEqual(s.mutations().slice(-3), [
      'netdev_add {"type":"tap","id":"net-n1","ifname":"qn-tap1","script":"no","downscript":"no"}',
      'device_add {"driver":"virtio-net-pci","netdev":"net-n1","id":"nic-n1","mac":"52:54:00:00:01:01","bus":"hotplug0","romfile":""}',
      'netdev_del {"id":"net-n1"}',
    ]);
    assert.deepEqual([...s.fake.netdevs.keys()], ['net-eth0']);
    s.fake.failing.clear();

    // Eight ports, shared: 3 disks + 5 NICs fill them; a ninth device finds none.
    for (const [i, p] of [[0, 'hotplug0'], [1, 'hotplug3'], [2, 'hotplug5']] as const) s.fake.hotDisk(`d${i}`, p);
    const ports: string[] = [];
    for (let i = 1; i <= 5; i++) ports.push((await attachNic(s.qmp, nic(i))).port);
    assert.deepEqual(ports, ['hotplug1', 'hotplug2', 'hotplug4', 'hotplug6', 'hotplug7']);
    await assert.rejects(attachNic(s.qmp, nic(6)), code('Conflict', /no free hot-plug port for NIC n6: all 8 are in use/));
    await assert.rejects(attachNic(s.qmp, nic(6, 'hotplug3')), code('Conflict', /hotplug3 is in use by disk-d1/));
    assert.equal(s.fake.netdevs.has('net-n6'), false, 'nothing was added for a refused attach');
  } finally {
    s.done();
  }
});

test('devices behind ports the guest has not enumerated yet (just after start) still count as using them (QOM)', async () => {
  const s = await setup();
  try {
    s.fake.enumerated = false; // query-pci shows every port empty, as before the firmware ran
    assert.equal((await attachNic(s.qmp, nic(1))).port, 'hotplug0');
    s.fake.hotDisk('data', 'hotplug1');
    assert.equal((await attachNic(s.qmp, nic(2))).port, 'hotplug2');
    assert.deepEqual((await listNics(s.qmp)).map((n) => `${n.id}@${n.port ?? 'pcie.0'}`), ['eth0@pcie.0', 'n1@hotplug0', 'n2@hotplug2']);
    await assert.rejects(attachNic(s.qmp, nic(3, 'hotplug1')), code('Conflict', /hotplug1 is in use by disk-data/));
  } finally {
    s.done();
  }
});

test('detach: cold NIC refused, guest that never releases times out, a retry completes; unknown NIC is NotFound', async () => {
  const s = await setup();
  try {
    await assert.rejects(detachNic(s.qmp, 'eth0'), code('Conflict', /NIC eth0 was attached at VM start/));
    assert.equal(s.mutations().length, 0, 'no device_del is sent for a cold NIC');
    assert.ok(s.fake.devices.has('nic-eth0') && s.fake.netdevs.has('net-eth0'));
    await attachNic(s.qmp, nic(1));
    s.fake.guestReleases = false;
    await assert.rejects(detachNic(s.qmp, 'n1', { timeoutMs: 100 }), code('Timeout', /guest release of NIC n1/));
    assert.ok(s.fake.netdevs.has('net-n1'), 'the netdev stays while the device is still there');
    // The guest finally lets go; a second detach sees "already in the process of unplug" and waits.
    const again = detachNic(s.qmp, 'n1', { timeoutMs: 2000 });
    setTimeout(() => s.fake.release('nic-n1'), 50);
    await again;
    assert.equal(s.fake.netdevs.has('net-n1'), false);
    await assert.rejects(detachNic(s.qmp, 'n1'), code('NotFound'));
    await assert.rejects(detachNic(s.qmp, 'never'), code('NotFound'));
  } finally {
    s.done();
  }
});

test('disks and NICs share the ports: the disks\' port picking sees hot-plugged NICs', async () => {
  const s = await setup();
  try {
    await attachNic(s.qmp, nic(1));
    await attachNic(s.qmp, nic(2, 'hotplug2'));
    const use = hotplugPortUse(s.fake.handle('query-pci').ret as Parameters<typeof hotplugPortUse>[0]);
    assert.deepEqual(use.get('hotplug0'), ['nic-n1']);
    assert.equal(use.size, 8);
    assert.equal(pickHotplugPort(use), 'hotplug1');
    assert.throws(() => pickHotplugPort(use, 'hotplug2'), /in use by nic-n2/);
  } finally {
    s.done();
  }
});
