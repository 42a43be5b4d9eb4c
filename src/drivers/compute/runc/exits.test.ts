// Exit events: an exit file written (as the shim does: temp file renamed) into the watched exits dir
// becomes an `exited` event at once; stops the driver was asked for are silent; containers from
// before exit files are found dead by the slow re-check.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/log.js';
import type { DriverEvent } from '../instance-driver.js';
import type { ContainerInfo } from './container-info.js';
import { exitRequested, ExitWatcher } from './exits.js';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function setup(recheckMs = 60_000) {
  const base = mkdtempSync(join(tmpdir(), 'nimbo-runc-exits-'));
  made.push(base);
  const status = { runcRoot: join(base, 'runc'), proc: join(base, 'proc'), cgroupRoot: join(base, 'cg') };
  const w = new ExitWatcher({ exitsDir: join(base, 'exits'), status, log: silentLogger(), recheckMs });
  const events: DriverEvent[] = [];
  const off = w.subscribe((e) => events.push(e));
  /** What the shim does when init ends. */
  const exit = (uuid: string, code: number) => {
    const f = w.exitFile(uuid);
    writeFileSync(`${f}.tmp`, JSON.stringify({ exitCode: code }) + '\n');
    renameSync(`${f}.tmp`, f);
  };
  return { w, events, off, exit, status };
}

/** Resolves once `events` has n entries (or rejects after ms). */
async function waitFor(events: unknown[], n: number, ms = 1000): Promise<void> {
  const end = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > end) throw new Error(`only ${events.length} of ${n} events after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const system: Pick<ContainerInfo, 'app'> = {};
const app = (restart: 'never' | 'on-failure' | 'always') => ({ app: { args: ['/a'], env: [], cwd: '/', uid: 0, gid: 0, restart } });

test('exitRequested: poweroff inside and app policies stay stopped; crashes, kills and reboots do not', () => {
  assert.equal(exitRequested(system, 0), true);
  assert.equal(exitRequested(system, 130), true, 'SIGINT: the kernel ends a pid namespace init that asked for poweroff');
  assert.equal(exitRequested(system, 129), false, 'SIGHUP: reboot from inside');
  assert.equal(exitRequested(system, 137), false);
  assert.equal(exitRequested(system, 1), false);
  assert.equal(exitRequested(system, null), true, 'unknown (no exit file): stays stopped as before');
  assert.equal(exitRequested(app('never'), 1), true);
  assert.equal(exitRequested(app('on-failure'), 0), true);
  assert.equal(exitRequested(app('on-failure'), 2), false);
  assert.equal(exitRequested(app('on-failure'), null), false);
  assert.equal(exitRequested(app('always'), 0), false);
});

test('an exit file in the exits dir is an event within a second, once per run', async () => {
  const { w, events, off, exit } = setup();
  w.add({ uuid: 'u1', runtimeId: 'p-u1', container: system });
  w.add({ uuid: 'u2', runtimeId: 'p-u2', container: app('on-failure') });
  const t0 = Date.now();
  exit('u1', 0);
  await waitFor(events, 1);
  assert.ok(Date.now() - t0 < 1000);
  exit('u2', 3);
  await waitFor(events, 2);
  assert.deepEqual(events, [
    { type: 'exited', uuid: 'u1', exitCode: 0, requested: true },
    { type: 'exited', uuid: 'u2', exitCode: 3, requested: false },
  ]);
  exit('u1', 0); // rewritten: still the same run
  exit('u9', 1); // not a container this watcher knows
  await sleep(100);
  assert.equal(events.length, 2);
  // A new run (starting removes the last file) is reported again.
  w.starting('u1');
  w.add({ uuid: 'u1', runtimeId: 'p-u1', container: system });
  exit('u1', 137);
  await waitFor(events, 3);
  assert.deepEqual(events[2], { type: 'exited', uuid: 'u1', exitCode: 137, requested: false });
  off();
  w.close();
});

test('the end of a stop the driver asked for is no event; one that ended before the watch is reported at add', async () => {
  const { w, events, exit } = setup();
  w.add({ uuid: 'u1', runtimeId: 'p-u1', container: app('always') });
  w.expectStop('u1');
  exit('u1', 143);
  await sleep(150);
  assert.deepEqual(events, []);
  exit('u3', 0);
  w.add({ uuid: 'u3', runtimeId: 'p-u3', container: system });
  assert.deepEqual(events, [{ type: 'exited', uuid: 'u3', exitCode: 0, requested: true }]);
  w.close();
});

test('a container from before exit files: the re-check sees its init gone (pid reuse checked by start time)', async () => {
  const { w, events, status } = setup(30);
  mkdirSync(join(status.runcRoot, 'p-old'), { recursive: true });
  writeFileSync(join(status.runcRoot, 'p-old', 'state.json'), JSON.stringify({ init_process_pid: 77, init_process_start: 555 }));
  mkdirSync(join(status.proc, '77'), { recursive: true });
  const stat = (start: number) => `77 (init) S 1 ${Array.from({ length: 17 }, () => '0').join(' ')} ${start} 0\n`;
  writeFileSync(join(status.proc, '77', 'stat'), stat(555));
  w.add({ uuid: 'old', runtimeId: 'p-old', container: system, legacy: true });
  await sleep(120);
  assert.deepEqual(events, []);
  writeFileSync(join(status.proc, '77', 'stat'), stat(556)); // pid 77 is another process now
  await waitFor(events, 1);
  assert.deepEqual(events, [{ type: 'exited', uuid: 'old', exitCode: null, requested: true }]);
  w.close();
});
