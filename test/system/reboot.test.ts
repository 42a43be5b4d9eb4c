// Desired state, reconciled (issue 10 point 4) on a real daemon: a VM, a system container and an app
// container running plus a stopped container; a crash of QEMU is restarted, a poweroff inside stays off,
// and a host reboot (every instance process, namespace, tap and root mount gone, a new boot id) brings
// back exactly what should run, with the same addresses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runArgv } from '../../src/host/exec.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { HOST_BOOT_KEY } from '../../src/core/reconcile/reconciler.js';
import { busyboxLayout, removeDir } from './busybox-app.js';
import { TestDaemon, makeSshKey, sleep, sshUntil, systemSkipReason } from './harness.js';

const skip = systemSkipReason();

interface Inst { name: string; state: string; addresses: string[]; pid: number | null }

describe('desired state across crashes and a host reboot', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  let work: string | undefined;
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const info = (name: string) => d.cliJson<Inst>('info', name);
  /** Poll `nimbo info` until `ok` holds. */
  const until = async (name: string, ms: number, ok: (i: Inst) => boolean, what: string) => {
    const end = Date.now() + ms;
    let last: Inst | undefined;
    while (Date.now() < end) {
      last = await info(name);
      if (ok(last)) return last;
      await sleep(250);
    }
    throw new Error(`${name}: timed out after ${ms} ms waiting for ${what}; last ${JSON.stringify(last)}`);
  };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    work = await busyboxLayout();
    await run('image', 'build', 'tiny', '--quiet');
    await run('image', 'import', join(work, 'layout'), '--name', 'bb', '--quiet');
    await run('launch', 'tiny', 'rb-vm', '--ssh-key', `${key.key}.pub`, '--memory', '192MiB', '--quiet');
    await run('launch', 'tiny', 'rb-ct', '--container', '--ssh-key', `${key.key}.pub`, '--memory', '64MiB', '--quiet');
    await run('launch', 'bb', 'rb-app', '--app', '--memory', '64MiB', '--quiet');
    await run('launch', 'tiny', 'rb-off', '--container', '--memory', '64MiB', '--quiet');
    await run('stop', 'rb-off', '--force', '--quiet');
    // Autostart policies only matter at a host boot: they tell it apart from a daemon restart.
    await run('launch', 'tiny', 'rb-never', '--container', '--memory', '64MiB', '--quiet');
    await run('launch', 'tiny', 'rb-always', '--container', '--memory', '64MiB', '--quiet');
    await run('stop', 'rb-always', '--force', '--quiet');
    for (const [n, autostart] of [['rb-never', 'never'], ['rb-always', 'always']]) {
      const r = await d.api('PATCH', `/instances/${n}`, { autostart });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    await d.waitConsole('rb-vm', /NIMBO-READY rb-vm/, 180_000);
  });
  after(async () => {
    await d?.cleanup();
    removeDir(work);
    removeDir(key?.dir);
  });

  test('kill -9 of a running VM\'s QEMU: the daemon starts it again', { timeout: 60_000 }, async () => {
    const before = await info('rb-vm');
    assert.equal(before.state, 'running');
    process.kill(before.pid!, 'SIGKILL');
    const t0 = Date.now();
    const back = await until('rb-vm', 30_000, (i) => i.state === 'running' && i.pid !== null && i.pid !== before.pid, 'a new QEMU');
    console.log(`# rb-vm running again ${Date.now() - t0} ms after the kill`);
    assert.ok(Date.now() - t0 < 15_000, 'back within ~10 s');
    assert.deepEqual(back.addresses, before.addresses);
  });

  test('a host reboot: what ran runs again with the same addresses, the stopped one stays stopped', { timeout: 300_000 }, async () => {
    const names = ['rb-vm', 'rb-ct', 'rb-app', 'rb-off', 'rb-never', 'rb-always'];
    const was = new Map<string, Inst>();
    for (const n of names) was.set(n, await info(n));
    assert.deepEqual(names.map((n) => was.get(n)!.state), ['running', 'running', 'running', 'stopped', 'running', 'stopped']);

    await d.stop('SIGKILL');
    await simulateReboot(d);
    // The same boot id would make this a plain daemon restart: the reconciler must take it as a host boot.
    const db = new SqliteStore(join(d.stateDir, 'state.db'));
    try {
      const kept = await db.get<{ bootId: string }>(HOST_BOOT_KEY);
      assert.equal(kept?.value.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), 'the daemon keeps the boot id it ran under');
      await db.put(HOST_BOOT_KEY, { bootId: 'the-boot-before-the-reboot' });
    } finally {
      await db.close();
    }
    const t0 = Date.now();
    await d.launch();

    for (const n of ['rb-ct', 'rb-app', 'rb-always']) {
      const i = await until(n, 30_000, (x) => x.state === 'running' && x.pid !== null, 'running');
      assert.deepEqual(i.addresses, was.get(n)!.addresses, `${n} keeps its addresses`);
    }
    console.log(`# containers running ${Date.now() - t0} ms after the daemon start`);
    const ct = await sshUntil(key.key, was.get('rb-ct')!.addresses[0]!, 60_000, 'hostname');
    assert.equal(ct.stdout.trim(), 'rb-ct', ct.stderr);
    const vm = await until('rb-vm', 30_000, (x) => x.state === 'running' && x.pid !== null, 'running');
    assert.deepEqual(vm.addresses, was.get('rb-vm')!.addresses);
    const ssh = await sshUntil(key.key, vm.addresses[0]!, 180_000, 'hostname');
    assert.equal(ssh.stdout.trim(), 'rb-vm', ssh.stderr);
    console.log(`# rb-vm answers SSH ${Date.now() - t0} ms after the daemon start`);
    await sleep(2000);
    assert.equal((await info('rb-off')).state, 'stopped', 'a stopped instance stays stopped');
    assert.equal((await info('rb-never')).state, 'stopped', 'autostart never: not started after a host boot');
  });

  test('poweroff inside the system container: it stays stopped', { timeout: 60_000 }, async () => {
    assert.equal((await info('rb-ct')).state, 'running');
    const r = await d.cli('exec', 'rb-ct', '--', 'poweroff');
    assert.ok(r.code === 0 || r.code === 137 || r.code === 255, `poweroff: ${r.code} ${r.stderr}`);
    await until('rb-ct', 20_000, (i) => i.state === 'stopped', 'stopped');
    await sleep(5000);
    const i = await info('rb-ct');
    assert.equal(i.state, 'stopped', 'a guest poweroff is not a crash: no restart');
    assert.equal(i.pid, null);
  });
});

/**
 * What a host reboot does to this daemon's instances: every QEMU, runc container, exit shim and mount helper
 * and dnsmasq of its state dir is gone, and so are their namespaces, taps/veths, bridges, nft tables and container root mounts.
 */
async function simulateReboot(d: TestDaemon): Promise<void> {
  const runcRoot = join(d.stateDir, 'run', 'runc');
  const ls = await runArgv(['runc', '--root', runcRoot, 'list', '-q'], { allowFailure: true });
  for (const id of ls.stdout.split('\n').filter(Boolean)) await runArgv(['runc', '--root', runcRoot, 'delete', '--force', id], { allowFailure: true });
  const ps = await runArgv(['ps', '-eo', 'pid=,args=']);
  for (const line of ps.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || Number(m[1]) === process.pid || !m[2]!.includes(d.stateDir)) continue;
    try {
      process.kill(Number(m[1]), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const ns = (await runArgv(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
  for (const m of ns.matchAll(new RegExp(`^(${d.prefix}-[0-9a-f]+)`, 'gm'))) await runArgv(['ip', 'netns', 'del', m[1]!]);
  for (const l of await d.links()) await runArgv(['ip', 'link', 'del', l], { allowFailure: true });
  for (const family of ['inet', 'bridge']) await runArgv(['nft', 'delete', 'table', family, d.prefix], { allowFailure: true });
  // Container roots (overlay / idmapped mounts); the pools stay (fstab or the daemon mounts them again).
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((p) => p.startsWith(`${d.stateDir}/`) && /\/(rootfs|lower)$/.test(p)).reverse()) await runArgv(['umount', '-l', m], { allowFailure: true });
  await sleep(500);
}
