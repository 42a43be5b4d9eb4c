import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeInstanceDriver } from '../../drivers/compute/testing/fake-driver.js';
import type { InstanceRecord } from '../instance-record.js';
import { CREATION_INTERRUPTED, MAX_FAILED_STARTS } from './desired.js';
import { HOST_BOOT_KEY, Reconciler, storeBootSource, type ReconcilerOptions } from './reconciler.js';
import { eventually, TestBoot, TestReconcileHost } from './testing.js';

type Observed = InstanceRecord & { oomKills?: number; exitCode?: number };
const fast: Partial<ReconcilerOptions> = { lockRetryMs: 20, backoff: (n) => n * 10, resyncMs: 3_600_000 };

async function setup(driver?: FakeInstanceDriver, boot = new TestBoot('boot-1', 'boot-1'), opts: Partial<ReconcilerOptions> = {}) {
  const h = new TestReconcileHost(driver);
  const r = new Reconciler(h, { boot, ...fast, ...opts });
  return { h, r, boot };
}

test('a crash is restarted; the record stays running with desired running', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  assert.equal(h.starts.length, 0, 'a running instance is only adopted at daemon start');
  assert.equal(h.driver.callsOf('adopt').length, 1);
  h.driver.crash(a.uuid, { exitCode: 137 });
  await eventually('restarted', async () => (await h.driver.status(h.refOf(a))).state === 'running');
  await r.idle();
  assert.equal(h.starts.length, 1);
  const now = await h.get(a.uuid);
  assert.equal(now.state, 'running');
  assert.equal(now.desired?.power, 'running');
  assert.ok(h.events.some((e) => e.data.restarted === true));
});

test('a requested poweroff stays stopped, with desired stopped', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  h.driver.crash(a.uuid, { exitCode: 0, requested: true });
  await eventually('marked stopped', async () => (await h.get(a.uuid)).state === 'stopped');
  await r.idle();
  assert.equal(h.starts.length, 0);
  assert.equal((await h.get(a.uuid)).desired?.power, 'stopped');
  // A later resync does not start it either.
  r.kick(a.uuid, 'resync');
  await r.idle();
  assert.equal(h.starts.length, 0);
});

test('while an operation holds the lock the pass is skipped, the event kept, and retried after', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  const b = await h.add({ name: 'b', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  const release = await h.holdLock(a.uuid);
  const releaseB = await h.holdLock(b.uuid);
  h.driver.crash(a.uuid, { exitCode: 137 });
  h.driver.crash(b.uuid, { exitCode: 0, requested: true });
  await r.idle();
  await new Promise((res) => setTimeout(res, 60));
  assert.equal(h.starts.length, 0, 'nothing happens under the lock');
  assert.equal((await h.get(b.uuid)).state, 'running');
  await release();
  await releaseB();
  await eventually('a restarted', () => h.starts.length === 1);
  await eventually('b stays off (its requested exit survived the wait)', async () => (await h.get(b.uuid)).desired?.power === 'stopped');
  await r.idle();
  assert.deepEqual(h.starts.map((s) => s.name), ['a']);
});

test('failed starts back off and end in error with the last message after 5', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  h.failStarts = 100;
  h.driver.crash(a.uuid, { exitCode: 137 });
  await eventually('error', async () => (await h.get(a.uuid)).state === 'error', 5000);
  const rec = await h.get(a.uuid);
  assert.equal(rec.error, 'cannot start a: injected');
  assert.equal(h.starts.length, MAX_FAILED_STARTS);
  const gaps = h.starts.slice(1).map((s, i) => s.at - h.starts[i]!.at);
  gaps.forEach((g, i) => assert.ok(g >= (i + 1) * 10 - 2, `gap ${i + 1} is ${g} ms, backoff ${(i + 1) * 10} ms`));
  // In error it is left alone.
  r.kick(a.uuid, 'resync');
  await r.idle();
  assert.equal(h.starts.length, MAX_FAILED_STARTS);
});

test('an instance that dies right after every restart ends in error too', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  for (let i = 0; i < 10 && (await h.get(a.uuid)).state !== 'error'; i++) {
    await eventually('running again', async () => (await h.driver.status(h.refOf(a))).state === 'running' || (await h.get(a.uuid)).state === 'error', 3000);
    if ((await h.get(a.uuid)).state === 'error') break;
    h.driver.crash(a.uuid, { exitCode: 1 });
    await eventually('handled', async () => (await h.driver.status(h.refOf(a))).state === 'running' || (await h.get(a.uuid)).state === 'error', 3000);
  }
  const rec = await h.get(a.uuid);
  assert.equal(rec.state, 'error');
  assert.match(rec.error ?? '', /stopped .* s after a restart/);
  assert.equal(h.starts.length, MAX_FAILED_STARTS);
});

test('host boot: never → stopped, always → started, last-state as recorded; the boot id is kept', async (t) => {
  const boot = new TestBoot('boot-2', 'boot-1');
  const { h, r } = await setup(undefined, boot);
  const never = await h.add({ name: 'never', state: 'running', desired: { power: 'running', autostart: 'never' } }, false);
  const always = await h.add({ name: 'always', state: 'stopped', desired: { power: 'stopped', autostart: 'always' } }, false);
  const lastRun = await h.add({ name: 'last-run', state: 'running', desired: { power: 'running', autostart: 'last-state' } }, false);
  const lastStop = await h.add({ name: 'last-stop', state: 'stopped', desired: { power: 'stopped', autostart: 'last-state' } }, false);
  assert.deepEqual(await r.start(), { hostBoot: true });
  t.after(() => r.close());
  assert.deepEqual(h.starts.map((s) => s.name).sort(), ['always', 'last-run']);
  const got = async (u: string) => {
    const x = await h.get(u);
    return [x.state, x.desired?.power];
  };
  assert.deepEqual(await got(never.uuid), ['stopped', 'stopped']);
  assert.deepEqual(await got(always.uuid), ['running', 'running']);
  assert.deepEqual(await got(lastRun.uuid), ['running', 'running']);
  assert.deepEqual(await got(lastStop.uuid), ['stopped', 'stopped']);
  assert.equal(boot.saved, 'boot-2');
  // The next daemon start on the same boot is no host boot.
  const r2 = new Reconciler(h, { boot, ...fast });
  assert.deepEqual(await r2.start(), { hostBoot: false });
  r2.close();
});

test('daemon start: an interrupted create becomes error; a running instance the record calls stopped is adopted', async (t) => {
  const { h, r } = await setup();
  const c = await h.add({ name: 'c', state: 'creating', desired: { power: 'running', autostart: 'last-state' } }, true);
  const s = await h.add({ name: 's', state: 'stopped', desired: { power: 'stopped', autostart: 'last-state' } }, true);
  await r.start();
  t.after(() => r.close());
  const cr = await h.get(c.uuid);
  assert.equal(cr.state, 'error');
  assert.equal(cr.error, CREATION_INTERRUPTED);
  assert.equal((await h.driver.status(h.refOf(c))).state, 'stopped', 'its half-made process is stopped');
  const sr = await h.get(s.uuid);
  assert.deepEqual([sr.state, sr.desired?.power], ['running', 'running']);
  assert.equal((await h.driver.status(h.refOf(s))).state, 'running');
});

test('a desired-state change in the store is carried out (stop, pause, resume)', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await r.start();
  t.after(() => r.close());
  const setPower = (power: 'running' | 'stopped' | 'paused') => h.patch(a, (cur) => ({ desired: { ...cur.desired!, power } }));
  await setPower('paused');
  await eventually('paused', async () => (await h.get(a.uuid)).state === 'paused');
  await setPower('running');
  await eventually('resumed', async () => (await h.get(a.uuid)).state === 'running' && (await h.driver.status(h.refOf(a))).state === 'running');
  await setPower('stopped');
  await eventually('stopped', async () => (await h.get(a.uuid)).state === 'stopped');
  await r.idle();
  assert.equal((await h.driver.status(h.refOf(a))).state, 'stopped');
  assert.equal(h.starts.length, 0, 'the stop was not taken for a crash');
});

test('resync notes OOM kills and an application exit code, with an event', async (t) => {
  const d = new FakeInstanceDriver({ preset: 'container' });
  const { h, r } = await setup(d);
  const app = { args: ['x'], env: [], cwd: '/', uid: 0, gid: 0, restart: 'never' as const };
  const a = await h.add({ name: 'a', type: 'container', driverConfig: { kind: 'app', app }, desired: { power: 'running', autostart: 'last-state' } } as Partial<InstanceRecord> & { name: string });
  await r.start();
  t.after(() => r.close());
  d.oom(a.uuid, 2);
  r.kick(a.uuid, 'resync');
  await r.idle();
  assert.equal(((await h.get(a.uuid)) as Observed).oomKills, 2);
  assert.ok(h.events.some((e) => e.data.oom === true && e.data.oomKills === 2));
  d.crash(a.uuid, { exitCode: 3, requested: true });
  await eventually('stopped', async () => (await h.get(a.uuid)).state === 'stopped');
  const rec = await h.get(a.uuid);
  assert.equal((rec as Observed).exitCode, 3);
  assert.equal(h.starts.length, 0);
});

test('the boot id lives in the store', async () => {
  const h = new TestReconcileHost();
  const b = storeBootSource(h.store, async () => 'abc');
  assert.equal(await b.stored(), undefined);
  await b.save(await b.current());
  assert.equal(await b.stored(), 'abc');
  assert.equal(((await h.store.get<{ bootId: string }>(HOST_BOOT_KEY))?.value.bootId), 'abc');
});

test('a host boot starts many instances, at most `concurrency` at once', async (t) => {
  const boot = new TestBoot('boot-2', 'boot-1');
  const h = new TestReconcileHost();
  let now = 0;
  let peak = 0;
  const start = h.start.bind(h);
  h.start = async (rec) => {
    peak = Math.max(peak, ++now);
    await new Promise((r) => setTimeout(r, 5));
    await start(rec);
    now--;
  };
  for (let i = 0; i < 12; i++) await h.add({ name: `i${i}`, state: 'running', desired: { power: 'running', autostart: 'last-state' } }, false);
  const r = new Reconciler(h, { boot, ...fast, concurrency: 3 });
  await r.start();
  t.after(() => r.close());
  assert.equal(h.starts.length, 12);
  assert.equal(peak, 3);
  for (const rec of await h.records()) assert.equal(rec.state, 'running');
});

test('a resync of instances as they should be takes no lock and writes nothing', async (t) => {
  const { h, r } = await setup();
  const a = await h.add({ name: 'a', desired: { power: 'running', autostart: 'last-state' } });
  await h.add({ name: 'b', state: 'stopped', desired: { power: 'stopped', autostart: 'last-state' } }, false);
  await r.start();
  t.after(() => r.close());
  const rev = await h.store.revision();
  for (const rec of await h.records()) r.kick(rec.uuid, 'resync');
  await r.idle();
  assert.equal(await h.store.revision(), rev, 'no store write (lock or record)');
  // Drift found by a resync is still acted on.
  h.driver.host.processes.delete(a.uuid);
  r.kick(a.uuid, 'resync');
  await r.idle();
  assert.equal(h.starts.length, 1);
});
