import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VpsAction, VpsActionResult } from '../shared/vps-action-types.js';
import { coreFixture, type CoreFixture } from './testing/core-fixture.js';
import { vpsOf } from './testing/vps-fixture.js';

/** The project these tests work in. */
const P = 'default';

const HASH = `$6$saltsalt$${'a'.repeat(86)}`;

/** Run a VPS action; the operation must succeed; its result. */
const act = async (t: CoreFixture, name: string, req: VpsAction) => {
  const end = await t.wait(await vpsOf(t).act(P, name, req));
  assert.equal(end.status, 'success', JSON.stringify(end.error));
  return end.result as VpsActionResult;
};
const power = async (t: CoreFixture, name: string) => {
  const r = await t.repo.record(P, name);
  return `${r.state}/${r.desired?.power}`;
};

test('reboot, shutdown, power_off and power_cycle: graceful or hard through the driver, desired power kept right', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    const pid = t.qemu.host.processes.get(vm.uuid)!.pid;
    await act(t, 'vm1', { type: 'reboot', timeout: 7 });
    assert.equal(await power(t, 'vm1'), 'running/running');
    assert.notEqual(t.qemu.host.processes.get(vm.uuid)!.pid, pid, 'a new boot');
    await act(t, 'vm1', { type: 'power_cycle' });
    assert.equal(await power(t, 'vm1'), 'running/running');
    await act(t, 'vm1', { type: 'shutdown', timeout: 3 });
    assert.equal(await power(t, 'vm1'), 'stopped/stopped');
    await t.wait(await t.actions.act(P, 'vm1', 'start'));
    await act(t, 'vm1', { type: 'power_off' });
    assert.equal(await power(t, 'vm1'), 'stopped/stopped');
    assert.deepEqual(t.qemu.callsOf('stop').map((c) => c.detail), [
      { force: false, timeoutMs: 7000 }, { force: true, timeoutMs: 30_000 }, { force: false, timeoutMs: 3000 }, { force: true, timeoutMs: 30_000 },
    ]);
    // A container's reboot is its stop signal, then a start.
    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container' });
    await act(t, 'ct1', { type: 'reboot' });
    assert.deepEqual(t.runc.callsOf('stop').map((c) => [c.uuid, c.detail]), [[ct.uuid, { force: false, timeoutMs: 30_000 }]]);
    assert.equal(await power(t, 'ct1'), 'running/running');
  } finally {
    await t.done();
  }
});

test('bad requests are refused before anything changes: arguments of another type, missing arguments, unknown instance', async () => {
  const t = await coreFixture();
  try {
    await t.launch({ name: 'vm1', image: 'tiny' });
    const before = await t.snapshot();
    const vps = vpsOf(t);
    await assert.rejects(vps.act(P, 'vm1', { type: 'reboot', image: 'tiny' }), { code: 'InvalidArgument', message: 'reboot takes timeout, not image' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'power_off', timeout: 3 }), { message: 'power_off takes no arguments, not timeout' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'rename' }), { message: 'rename needs a name' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'rebuild' }), { message: 'rebuild needs an image' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'rebuild', image: 'nope' }), { code: 'NotFound' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'password_reset', password: 'bad\npassword' }), { code: 'InvalidArgument' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'ssh_keys', keys: ['ssh-ed25519 AAAA\nx'] }), { code: 'InvalidArgument' });
    await assert.rejects(vps.act(P, 'vm1', { type: 'unrescue' }), { code: 'Conflict', message: 'instance vm1 is not in rescue' });
    await assert.rejects(vps.act(P, 'nope', { type: 'reboot' }), { code: 'NotFound' });
    assert.deepEqual(await t.snapshot(), before);
  } finally {
    await t.done();
  }
});

test('rename: the PATCH rename as an Operation; a taken name fails it and changes nothing', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    await t.launch({ name: 'vm2', image: 'tiny', start: false });
    const res = await act(t, 'vm1', { type: 'rename', name: 'web' });
    assert.equal(res.applies, 'now');
    assert.equal((await t.repo.record(P, 'web')).uuid, vm.uuid);
    await assert.rejects(t.repo.record(P, 'vm1'), { code: 'NotFound' });
    const end = await t.wait(await vpsOf(t).act(P, 'web', { type: 'rename', name: 'vm2' }));
    assert.equal(end.status, 'failure');
    assert.equal(end.error?.message, 'instance vm2 already exists');
    assert.equal((await t.repo.record(P, 'web')).uuid, vm.uuid);
  } finally {
    await t.done();
  }
});

test('password_reset: only a SHA-512 crypt hash is kept, in the record and the seed; it applies at the next boot', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny' });
    t.exec.on(['openssl', 'passwd', '-6', '-stdin'], { stdout: `${HASH}\n` });
    const res = await act(t, 'vm1', { type: 'password_reset', password: 'correct horse battery' });
    assert.equal(res.applies, 'next-boot');
    assert.match(res.message, /next boot/);
    assert.equal((await t.repo.record(P, 'vm1')).passwordHash, HASH);
    const seed = t.qemu.host.seeds.get(vm.uuid)!;
    assert.equal(seed['nimbo/password-hash'], `${HASH}\n`);
    assert.match(seed['user-data']!, /type: "hash"/);
    assert.ok(!JSON.stringify(seed).includes('correct horse'), 'the password itself is in no seed file');
    assert.ok(!t.exec.lines().some((l) => l.includes('correct horse')), 'nor on any command line');
    // The seed keeps it through later re-renders (a rebuild, new keys).
    await act(t, 'vm1', { type: 'ssh_keys', keys: ['ssh-ed25519 AAAAnew user@x'] });
    assert.equal(t.qemu.host.seeds.get(vm.uuid)!['nimbo/password-hash'], `${HASH}\n`);
  } finally {
    await t.done();
  }
});

test('ssh_keys: a VM gets them in its seed (next boot); a running container gets authorized_keys written inside it at once', async () => {
  const t = await coreFixture();
  try {
    const vm = await t.launch({ name: 'vm1', image: 'tiny', sshKeys: ['ssh-ed25519 AAAAold a@b'] });
    const res = await act(t, 'vm1', { type: 'ssh_keys', keys: ['ssh-ed25519 AAAAone a@b', ' ssh-rsa AAAAtwo c@d '] });
    assert.equal(res.applies, 'next-boot');
    assert.deepEqual((await t.repo.record(P, 'vm1')).sshKeys, ['ssh-ed25519 AAAAone a@b', 'ssh-rsa AAAAtwo c@d']);
    assert.equal(t.qemu.host.seeds.get(vm.uuid)!['nimbo/authorized_keys'], 'ssh-ed25519 AAAAone a@b\nssh-rsa AAAAtwo c@d\n');

    const ct = await t.launch({ name: 'ct1', image: 'tiny', type: 'container' });
    const now = await act(t, 'ct1', { type: 'ssh_keys', keys: ['ssh-ed25519 AAAAct e@f'] });
    assert.equal(now.applies, 'now');
    const ran = t.runc.host.execs.filter((e) => e.uuid === ct.uuid);
    assert.equal(ran.length, 1);
    assert.deepEqual(ran[0]!.args.slice(0, 2), ['sh', '-c']);
    assert.match(ran[0]!.args[2]!, /\/root\/\.ssh\/authorized_keys$/);
    assert.equal(t.runc.host.seeds.get(ct.uuid)!['nimbo/authorized_keys'], 'ssh-ed25519 AAAAct e@f\n');

    // A failed write inside: the record and the seed keep the old keys.
    t.runc.failAt('exec');
    const end = await t.wait(await vpsOf(t).act(P, 'ct1', { type: 'ssh_keys', keys: ['ssh-ed25519 AAAAlost g@h'] }));
    assert.equal(end.status, 'failure');
    assert.deepEqual((await t.repo.record(P, 'ct1')).sshKeys, ['ssh-ed25519 AAAAct e@f']);
    assert.equal(t.runc.host.seeds.get(ct.uuid)!['nimbo/authorized_keys'], 'ssh-ed25519 AAAAct e@f\n');
  } finally {
    await t.done();
  }
});
