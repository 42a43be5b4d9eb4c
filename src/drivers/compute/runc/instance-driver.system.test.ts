// RuncInstanceDriver with real runc: a busybox system container made (overlay root over an image
// tree), started, watched and destroyed through the driver alone. Status costs no process; a
// poweroff inside, a kill from the host and a stop the driver was asked for give the right events.
// Needs root, runc, /bin/busybox (busybox-static), python3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec, type ExecOptions, type ExecResult, type HostExec } from '../../../host/exec.js';
import { silentLogger } from '../../../lib/log.js';
import type { DriverEvent, InstanceSpec } from '../instance-driver.js';
import { RuncInstanceDriver } from './instance-driver.js';
import { RuncDriver } from './runc-driver.js';
import { buildImageTree } from './test-image-tree.js';
import { isContainerRootMounted } from './rootfs/container-root.js';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const ci = process.env.CI === 'true';
const skip = ci ? false : process.getuid?.() !== 0 ? 'needs root' : !RUNC ? 'needs runc' : !existsSync('/bin/busybox') ? 'needs /bin/busybox (busybox-static)' : false;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts host commands (status must run none). */
class CountingExec implements HostExec {
  n = 0;
  private real = new RealExec();
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    this.n++;
    return this.real.run(argv, opts);
  }
}

async function waitFor<T>(what: string, ms: number, f: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('runc instance driver: prepare, start, cheap status, pause, exit events (poweroff inside, kill, requested stop), destroy', { skip, timeout: 180_000 }, async (t) => {
  const exec = new CountingExec();
  const prefix = `rci${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync('/tmp/rci-sys-');
  chmodSync(dir, 0o755);
  const runc = new RuncDriver({ exec, runtime: RUNC!, root: join(dir, 'runc') });
  const network = { deleteTap: async () => undefined, plugNetns: async () => undefined, applyLimits: async () => undefined };
  const driver = new RuncInstanceDriver({ exec, log: silentLogger(), runtime: runc, network, prefix, exitsDir: join(dir, 'exits') });
  const events: DriverEvent[] = [];
  let off = () => undefined as void;
  const uuid = randomUUID();
  const id = `${prefix}-${uuid}`;
  const rootPath = join(dir, 'vol');
  try {
    const tree = join(dir, 'image');
    await buildImageTree(exec, tree);
    mkdirSync(rootPath);
    const slot = 2000 + randomInt(0, 1000);
    const planned = await driver.plan({ uuid, name: 'sys1', image: 'tiny', allocateId: async () => slot, releaseId: async () => undefined });
    // No swap on top of the memory limit where the host accounts swap (v1 memsw), so a hog is OOM-killed, not swapped out.
    const memsw = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
    const ct = memsw ? { ...planned, swapBytes: 0 } : planned;
    const ref = { uuid, name: 'sys1', hostIds: { runDir: join(dir, 'run', uuid), instanceDir: join(dir, 'instances', uuid), runtimeId: id, cgroup: `/nimbo-${prefix}/${uuid}` }, driverConfig: ct };
    const spec: InstanceSpec = { ...ref, cpus: 1, memoryBytes: 64 * 1024 ** 2, root: { pool: 'default', volume: `root-${uuid}`, path: rootPath }, nics: [], volumes: [], networks: new Map() };
    await driver.prepare(spec, { seed: { 'meta-data': `instance-id: ${uuid}\n` }, lowerDir: tree, root: 'new' });
    await driver.start(spec); // before anyone watches (the daemon subscribes later): the exits dir is made by start
    off = driver.watch((e) => events.push(e));
    const st = await driver.status(ref);
    assert.equal(st.state, 'running');
    assert.ok(st.pid && st.pid > 1);

    // 100 status reads: no process at all.
    exec.n = 0;
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) assert.equal((await driver.status(ref)).state, 'running');
    t.diagnostic(`100 status reads: ${(performance.now() - t0).toFixed(1)} ms`);
    assert.equal(exec.n, 0);
    assert.equal((await runc.state(id)).status, 'running', 'runc agrees');

    await driver.pause(ref);
    assert.equal((await driver.status(ref)).state, 'paused');
    await driver.resume(ref);
    assert.equal((await driver.status(ref)).state, 'running');

    // A process past the memory limit is OOM-killed: the cgroup's counter shows in status.
    assert.ok(!(await driver.status(ref)).oomKills, 'no OOM kill yet');
    const hog = await runc.exec(id, ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done']);
    assert.equal(hog.code, 137, hog.stderr);
    assert.ok(((await driver.status(ref)).oomKills ?? 0) >= 1, 'the OOM kill is counted');

    // Poweroff inside: the kernel ends the namespace's init; the event says it should stay stopped.
    await runc.exec(id, ['poweroff']);
    const ev = await waitFor('the poweroff event', 20_000, () => events[0]);
    assert.deepEqual({ ...ev, exitCode: 0 }, { type: 'exited', uuid, exitCode: 0, requested: true });
    t.diagnostic(`poweroff inside: exit code ${ev.type === 'exited' ? ev.exitCode : ''}`);
    assert.ok(ev.type === 'exited' && (ev.exitCode === 0 || ev.exitCode === 130), `exit code ${ev.type === 'exited' ? ev.exitCode : ''}`);
    const after = await driver.status(ref);
    assert.deepEqual([after.state, after.pid, after.exitCode], ['stopped', null, ev.type === 'exited' ? ev.exitCode : -1]);

    // A stop the driver was asked for: no event.
    await driver.start(spec);
    assert.equal((await driver.status(ref)).state, 'running');
    await driver.stop(ref, { timeoutMs: 10_000, force: false });
    await sleep(1500);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal((await driver.status(ref)).state, 'stopped');

    // Killed from the host: a crash, within a second or so.
    await driver.start(spec);
    const { pid } = await driver.status(ref);
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    const crash = await waitFor('the kill event', 5000, () => events[1]);
    t.diagnostic(`kill → event: ${Date.now() - killedAt} ms`);
    assert.deepEqual(crash, { type: 'exited', uuid, exitCode: 137, requested: false });

    await driver.destroy(ref, [], { path: rootPath });
    assert.equal((await runc.state(id)).status, 'absent');
    assert.equal(await isContainerRootMounted(rootPath), false);
    for (const gone of [ref.hostIds.runDir, ref.hostIds.instanceDir, join(dir, 'exits', `${uuid}.json`)]) assert.equal(existsSync(gone), false, gone);
    assert.ok(existsSync(rootPath), 'the volume dir stays');
  } finally {
    off();
    driver.close();
    await exec.run([RUNC!, '--root', join(dir, 'runc'), 'delete', '--force', id], { allowFailure: true });
    for (const mp of [join(rootPath, 'rootfs'), join(rootPath, 'lower')]) await exec.run(['umount', mp], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
    const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d));
    for (const r of roots) {
      for (const p of [join(r, `nimbo-${prefix}`, uuid), join(r, `nimbo-${prefix}`)]) {
        try {
          rmdirSync(p);
        } catch {
          /* absent */
        }
      }
    }
  }
});
