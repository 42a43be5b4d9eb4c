import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachDisk, detachDisk, getDisk, listDisks, resizeDisk, setThrottle } from './block-ops.js';
import { FakeBlockQemu } from './fake-qmp-block.js';
import { QmpClient } from './qmp.js';

const code = (c: string, re?: RegExp) => (e: unknown) => (e as { code?: string }).code === c && (!re || re.test((e as Error).message));

/** A fake QEMU with a cold root disk, and a connected client; `done` closes both. */
async function setup(): Promise<{ fake: FakeBlockQemu; qmp: QmpClient; done: () => void; mutations: () => string[] }> {
  const fake = new FakeBlockQemu();
  fake.coldDisk('root', 'qcow2', '/p/root.qcow2', 256 << 20);
  const srv = await fake.listen();
  const qmp = await QmpClient.connect(srv.path);
  return {
    fake, qmp,
    done: () => { qmp.close(); srv.stop(); },
    mutations: () => fake.calls.filter((c) => !c.cmd.startsWith('query-')).map((c) => `${c.cmd} ${JSON.stringify(c.args ?? {})}`),
  };
}

test('attach: file node, format node, device on the first free port, then throttle; detach reverses it', async () => {
  const s = await setup();
  try {
    const r = await attachDisk(s.qmp, { id: 'qb-data', path: '/p/qb.qcow2', format: 'qcow2', throttle: { iops_wr: 50 } });
    assert.deepEqual(r, { id: 'qb-data', qdevId: 'disk-qb-data', nodeName: 'd-qb-data', port: 'hotplug0' });
    const second = await attachDisk(s.qmp, { id: 'qb-ro', path: '/p/ro.raw', format: 'raw', readOnly: true });
    assert.equal(second.port, 'hotplug1');
    const disks = await listDisks(s.qmp);
    assert.deepEqual(disks.map((d) => [d.id, d.port, d.format, d.readOnly, d.throttle.iops_wr]), [
      ['root', undefined, 'qcow2', false, 0], ['qb-data', 'hotplug0', 'qcow2', false, 50], ['qb-ro', 'hotplug1', 'raw', true, 0]]);
    await detachDisk(s.qmp, 'qb-data');
    assert.deepEqual(s.mutations(), [
      'blockdev-add {"driver":"file","node-name":"f-qb-data","filename":"/p/qb.qcow2","read-only":false,"discard":"unmap"}',
      'blockdev-add {"driver":"qcow2","node-name":"d-qb-data","file":"f-qb-data","read-only":false,"discard":"unmap"}',
      'device_add {"driver":"virtio-blk-pci","id":"disk-qb-data","drive":"d-qb-data","bus":"hotplug0"}',
      'block_set_io_throttle {"id":"/machine/peripheral/disk-qb-data/virtio-backend","bps":0,"bps_rd":0,"bps_wr":0,"iops":0,"iops_rd":0,"iops_wr":50}',
      'blockdev-add {"driver":"file","node-name":"f-qb-ro","filename":"/p/ro.raw","read-only":true,"discard":"unmap"}',
      'blockdev-add {"driver":"raw","node-name":"d-qb-ro","file":"f-qb-ro","read-only":true,"discard":"unmap"}',
      'device_add {"driver":"virtio-blk-pci","id":"disk-qb-ro","drive":"d-qb-ro","bus":"hotplug1"}',
      'device_del {"id":"disk-qb-data"}',
      'blockdev-del {"node-name":"d-qb-data"}',
      'blockdev-del {"node-name":"f-qb-data"}',
    ]);
    assert.deepEqual((await listDisks(s.qmp)).map((d) => d.id), ['root', 'qb-ro']);
    // The freed port is reused; a re-attach of the same id works.
    assert.equal((await attachDisk(s.qmp, { id: 'qb-data', path: '/p/qb.qcow2', format: 'qcow2' })).port, 'hotplug0');
  } finally {
    s.done();
  }
});

test('attach refuses duplicates, full ports and leftovers; rolls back its nodes when device_add fails', async () => {
  const s = await setup();
  try {
    await assert.rejects(attachDisk(s.qmp, { id: 'root', path: '/p/x.qcow2', format: 'qcow2' }), code('Conflict', /already attached/));
    for (let i = 0; i < 4; i++) await attachDisk(s.qmp, { id: `d${i}`, path: `/p/${i}.qcow2`, format: 'qcow2' });
    await assert.rejects(attachDisk(s.qmp, { id: 'd4', path: '/p/4.qcow2', format: 'qcow2' }), code('Conflict', /no free hot-plug port/));
    await detachDisk(s.qmp, 'd3');
    s.fake.failing.set('device_add', "Bus 'hotplug3' does not support hotplugging");
    await assert.rejects(attachDisk(s.qmp, { id: 'd4', path: '/p/4.qcow2', format: 'qcow2' }), /does not support hotplugging/);
    assert.deepEqual([...s.fake.nodes.keys()].filter((n) => n.endsWith('d4')), [], 'both nodes of the failed attach were removed');
    s.fake.failing.clear();
    s.fake.nodes.set('f-d5', { driver: 'file', ro: false, size: 0, snaps: [] });
    await assert.rejects(attachDisk(s.qmp, { id: 'd5', path: '/p/5.qcow2', format: 'qcow2' }), code('Conflict', /left from an earlier attach/));
    await assert.rejects(attachDisk(s.qmp, { id: 'd6', path: 'x', format: 'qcow2' }), code('InvalidArgument'));
  } finally {
    s.done();
  }
});

test('detach: cold disk refused, guest that never releases times out, then a retry completes; unknown disk is NotFound', async () => {
  const s = await setup();
  try {
    await assert.rejects(detachDisk(s.qmp, 'root'), code('Conflict', /attached at VM start/));
    await attachDisk(s.qmp, { id: 'qb-data', path: '/p/qb.qcow2', format: 'qcow2' });
    s.fake.guestReleases = false;
    await assert.rejects(detachDisk(s.qmp, 'qb-data', { timeoutMs: 100 }), code('Timeout', /guest release of disk qb-data/));
    assert.ok(s.fake.nodes.has('d-qb-data'), 'nodes stay while the device is still there');
    // The guest finally lets go; a second detach sees "already in the process of unplug" and waits.
    s.fake.guestReleases = true;
    const again = detachDisk(s.qmp, 'qb-data', { timeoutMs: 2000 });
    setTimeout(() => {
      s.fake.devices.delete('disk-qb-data');
      s.fake.emit('DEVICE_DELETED', { device: 'disk-qb-data', path: '/machine/peripheral/disk-qb-data' });
    }, 50);
    await again;
    assert.equal(s.fake.nodes.has('d-qb-data') || s.fake.nodes.has('f-qb-data'), false);
    await assert.rejects(detachDisk(s.qmp, 'qb-data'), code('NotFound'));
  } finally {
    s.done();
  }
});

test('resize grows the format node only; throttle is set live and read back; unknown disks are NotFound', async () => {
  const s = await setup();
  try {
    assert.equal(await resizeDisk(s.qmp, 'root', 512 << 20), 512 << 20);
    assert.equal((await getDisk(s.qmp, 'root')).virtualSize, 512 << 20);
    await resizeDisk(s.qmp, 'root', 512 << 20); // same size: no command
    await assert.rejects(resizeDisk(s.qmp, 'root', 128 << 20), code('InvalidArgument', /shrinking is refused/));
    await assert.rejects(resizeDisk(s.qmp, 'nope', 1 << 30), code('NotFound'));
    await attachDisk(s.qmp, { id: 'ro', path: '/p/ro.raw', format: 'raw', readOnly: true });
    await assert.rejects(resizeDisk(s.qmp, 'ro', 1 << 30), code('Conflict', /read-only/));
    await setThrottle(s.qmp, 'root', { iops_rd: 200, iops_wr: 100, bps_rd: 10_000_000, bps_wr: 5_000_000 });
    assert.deepEqual((await getDisk(s.qmp, 'root')).throttle, { iops_rd: 200, iops_wr: 100, bps_rd: 10_000_000, bps_wr: 5_000_000 });
    await setThrottle(s.qmp, 'root', {});
    assert.deepEqual((await getDisk(s.qmp, 'root')).throttle, { iops_rd: 0, iops_wr: 0, bps_rd: 0, bps_wr: 0 });
    await assert.rejects(setThrottle(s.qmp, 'nope', {}), code('NotFound'));
    assert.deepEqual(s.mutations().filter((m) => m.startsWith('block_resize')), ['block_resize {"node-name":"d-root","size":536870912}']);
  } finally {
    s.done();
  }
});
