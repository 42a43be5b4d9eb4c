import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { assertEachStepLeavesNothing, stepsOf } from './testing/fail-each-step.js';

const ipamOwners = async (t: CoreFixture) => (await t.store.list<{ owner: string; nic: string }>('/ipam/default/')).map((kv) => `${kv.value.owner}/${kv.value.nic}`).sort();

test('NIC attach to a stopped VM: address, host end and record; plugged at the next start; detach gives all back', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny', start: false });
    const end = await t.wait(await t.nics.attach('default', 'vm1', { network: 'default', securityGroups: ['default'] }));
    assert.equal(end.status, 'success', JSON.stringify(end.error));
    const rec = await t.repo.record('default', 'vm1');
    assert.deepEqual(rec.nics.map((n) => [n.name, !!n.hotplug]), [['eth0', false], ['eth1', true]]);
    assert.deepEqual(await ipamOwners(t), ['vm1/eth0', 'vm1/eth1']);
    assert.deepEqual(t.qemu.callsOf('plugNic').at(-1)?.detail, { nic: 'eth1', live: false });
    assert.ok(t.qemu.host.taps.has(rec.nics[1]!.tap));
    assert.equal((await t.wait(await t.actions.act('default', 'vm1', 'start'))).status, 'success');
    assert.deepEqual([...t.qemu.host.processes.get(vm.uuid)!.nics].sort(), ['eth0', 'eth1']);
    assert.equal((await t.wait(await t.actions.act('default', 'vm1', 'stop', { force: true }))).status, 'success');
    // Stopped: even the boot NIC may go, as long as it is not the only one.
    const det = await t.wait(await t.nics.detach('default', 'vm1', 'eth0'));
    assert.equal(det.status, 'success', JSON.stringify(det.error));
    assert.deepEqual((await t.repo.record('default', 'vm1')).nics.map((n) => n.name), ['eth1']);
    assert.deepEqual(await ipamOwners(t), ['vm1/eth1']);
    assert.equal(t.qemu.host.taps.has(rec.nics[0]!.tap), false);
    await assert.rejects(t.nics.detach('default', 'vm1', 'eth1'), { message: 'NIC eth1 is the only NIC of vm1' });
    await assert.rejects(t.nics.detach('default', 'vm1', 'eth7'), { message: 'NIC eth7 of instance vm1 not found' });
  } finally {
    await t.done();
  }
});

test('NICs of a running VM: hot-plugged ones attach and detach live; the boot NIC is refused while it runs', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    assert.equal((await t.wait(await t.nics.attach('default', 'vm1', { network: 'default' }))).status, 'success');
    assert.deepEqual(t.qemu.callsOf('plugNic').at(-1)?.detail, { nic: 'eth1', live: true });
    assert.ok(t.qemu.host.processes.get(vm.uuid)!.nics.has('eth1'));
    await assert.rejects(t.nics.detach('default', 'vm1', 'eth0'), { message: 'NIC eth0 of vm1 was there at boot and cannot be unplugged live: stop the instance first' });
    const det = await t.wait(await t.nics.detach('default', 'vm1', 'eth1'));
    assert.equal(det.status, 'success', JSON.stringify(det.error));
    assert.equal(t.qemu.host.processes.get(vm.uuid)!.nics.has('eth1'), false);
    assert.deepEqual(await ipamOwners(t), ['vm1/eth0']);
    assert.deepEqual((await t.repo.record('default', 'vm1')).nics.map((n) => n.name), ['eth0']);
  } finally {
    await t.done();
  }
});

test('a running container may lose its boot NIC live (its driver can unplug boot NICs)', async () => {
  const t = await coreFixture();
  try {
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container', nics: [{ network: 'default' }, { network: 'default' }] });
    const det = await t.wait(await t.nics.detach('default', 'ct1', 'eth0'));
    assert.equal(det.status, 'success', JSON.stringify(det.error));
    assert.deepEqual([...t.runc.host.processes.get(ct.uuid)!.nics], ['eth1']);
    assert.deepEqual(await ipamOwners(t), ['ct1/eth1']);
  } finally {
    await t.done();
  }
});

test('NIC requests are checked before anything is made', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny' });
    const before = await t.snapshot();
    await assert.rejects(t.nics.attach('default', 'vm1', { network: 'nope' }), { message: 'network nope not found' });
    await assert.rejects(t.nics.attach('default', 'vm1', { network: 'default', securityGroups: ['nope'] }), /security group nope/);
    await assert.rejects(t.nics.attach('default', 'vm1', { network: 'default', ingress: 'fast' }), /ingress bandwidth/);
    assert.deepEqual(await t.snapshot(), before);
  } finally {
    await t.done();
  }
});

for (const [what, start] of [['a running VM', true], ['a stopped VM', false]] as const) {
  test(`NIC attach to ${what}: a failure at every step rolls back (record, address, host end)`, async () => {
    const prepare = async (t: CoreFixture) => void (await t.launch({ name: 'vm1', image: 'tiny', start }));
    const attach = (t: CoreFixture) => t.nics.attach('default', 'vm1', { network: 'default' });
    const steps = await stepsOf(prepare, attach);
    for (const w of ['network.allocate#1', 'repo.patch#1', 'firewall.apply#1', 'qemu.plugNic#1']) assert.ok(steps.includes(w), `step ${w} is among ${steps.join(', ')}`);
    await assertEachStepLeavesNothing(steps, prepare, attach, {
      check: async (t) => {
        assert.deepEqual(await ipamOwners(t), ['vm1/eth0']);
        assert.deepEqual((await t.repo.record('default', 'vm1')).nics.map((n) => n.name), ['eth0']);
      },
    });
  });
}

test('two NIC attaches accepted at once get different names and addresses', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny', start: false });
    const ops = await Promise.all([t.nics.attach('default', 'vm1', { network: 'default' }), t.nics.attach('default', 'vm1', { network: 'default' })]);
    for (const op of ops) {
      const end = await t.wait(op);
      assert.equal(end.status, 'success', JSON.stringify(end.error));
    }
    const nics = (await t.repo.record('default', 'vm1')).nics;
    assert.deepEqual(nics.map((n) => n.name), ['eth0', 'eth1', 'eth2']);
    assert.equal(new Set(nics.map((n) => n.tap)).size, 3);
    assert.deepEqual(await ipamOwners(t), ['vm1/eth0', 'vm1/eth1', 'vm1/eth2']);
  } finally {
    await t.done();
  }
});
