import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import { cpuDeviceId, planHotAdd, presentCpus, type HotplugState, type HotpluggableCpu } from './hotplug-plan.js';
import { parseGuestStats } from './hotplug.js';

const MiB = 1024 ** 2;
const T = 'max-x86_64-cpu';

/** query-hotpluggable-cpus of `-smp PRESENT,maxcpus=MAX` on q35 (QEMU 7.2 lists the highest core first). */
function cpus(present: number, max: number): HotpluggableCpu[] {
  const out: HotpluggableCpu[] = [];
  for (let core = max - 1; core >= 0; core--) {
    const props = { 'core-id': core, 'thread-id': 0, 'node-id': 0, 'socket-id': 0 };
    out.push({ type: T, 'vcpus-count': 1, props, ...(core < present ? { 'qom-path': `/machine/unattached/device[${core}]` } : {}) });
  }
  return out;
}

const state = (o: Partial<HotplugState> = {}): HotplugState => ({
  cpus: cpus(1, 4),
  memory: { 'base-memory': 128 * MiB, 'plugged-memory': 0 },
  devices: [],
  ...o,
});
const want = { cpus: 1, memoryBytes: 128 * MiB, maxCpus: 4, maxMemoryBytes: 512 * MiB, slots: 8 };
const code = (c: string, re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === c && re.test(e.message);

test('hot-add plan: the lowest free CPU slots, with their topology as device_add properties', () => {
  const p = planHotAdd(state(), { ...want, cpus: 3 });
  assert.deepEqual(p.before, { cpus: 1, memoryBytes: 128 * MiB });
  assert.deepEqual(p.cpus, [
    { driver: T, id: 'cpu-0-1-0', props: { 'core-id': 1, 'thread-id': 0, 'node-id': 0, 'socket-id': 0 } },
    { driver: T, id: 'cpu-0-2-0', props: { 'core-id': 2, 'thread-id': 0, 'node-id': 0, 'socket-id': 0 } },
  ]);
  assert.deepEqual(p.dimms, []);
  assert.equal(presentCpus(cpus(3, 4)), 3);
  assert.equal(cpuDeviceId({ 'socket-id': 1, 'core-id': 0, 'thread-id': 1 }), 'cpu-1-0-1');
});

test('hot-add plan: one DIMM for the memory missing, named after the first free dimm id; plugged DIMMs count', () => {
  const p = planHotAdd(state(), { ...want, memoryBytes: 384 * MiB });
  assert.deepEqual(p.dimms, [{ id: 'dimm0', memdev: 'mem-dimm0', bytes: 256 * MiB }]);
  assert.deepEqual(p.cpus, []);
  const grown = state({ memory: { 'base-memory': 128 * MiB, 'plugged-memory': 128 * MiB }, devices: [{ type: 'dimm', data: { id: 'dimm0', size: 128 * MiB } }] });
  assert.deepEqual(planHotAdd(grown, { ...want, memoryBytes: 512 * MiB }).dimms, [{ id: 'dimm1', memdev: 'mem-dimm1', bytes: 256 * MiB }]);
  assert.deepEqual(planHotAdd(grown, { ...want, memoryBytes: 256 * MiB }), { cpus: [], dimms: [], before: { cpus: 1, memoryBytes: 256 * MiB } }, 'already that size: nothing');
});

test('hot-add plan refusals: past the maximum (400, naming it), a shrink (409), odd memory steps (400), no free slot (409)', () => {
  assert.throws(() => planHotAdd(state(), { ...want, cpus: 5 }), code('InvalidArgument', /5 vCPUs is past this VM's maximum of 4/));
  // The launch maximum wins over the slots QEMU has, and the other way round.
  assert.throws(() => planHotAdd(state(), { ...want, cpus: 3, maxCpus: 2 }), code('InvalidArgument', /maximum of 2/));
  assert.throws(() => planHotAdd(state({ cpus: cpus(1, 2) }), { ...want, cpus: 3 }), code('InvalidArgument', /maximum of 2/));
  assert.throws(() => planHotAdd(state(), { ...want, memoryBytes: 640 * MiB }), code('InvalidArgument', /640 MiB of memory is past this VM's maximum of 512 MiB/));
  assert.throws(() => planHotAdd(state({ cpus: cpus(2, 4) }), { ...want, cpus: 1 }), code('Conflict', /going down to 1 needs a stop/));
  assert.throws(() => planHotAdd(state(), { ...want, memoryBytes: 64 * MiB }), code('Conflict', /needs a stop/));
  assert.throws(() => planHotAdd(state(), { ...want, memoryBytes: 192 * MiB }), code('InvalidArgument', /steps of 128 MiB/));
  const full = state({ devices: Array.from({ length: 8 }, (_, i) => ({ type: 'dimm', data: { id: `dimm${i}`, size: 128 * MiB } })) });
  assert.throws(() => planHotAdd(full, { ...want, memoryBytes: 256 * MiB }), code('Conflict', /all 8 memory slots/));
});

test('balloon guest-stats: used = total - available; none before the first update or with a missing field', () => {
  const stats = { 'stat-total-memory': 400 * MiB, 'stat-free-memory': 300 * MiB, 'stat-available-memory': 320 * MiB, 'stat-swap-in': 0 };
  assert.deepEqual(parseGuestStats({ stats, 'last-update': 1700000000 }), { totalBytes: 400 * MiB, freeBytes: 300 * MiB, availableBytes: 320 * MiB, usedBytes: 80 * MiB });
  assert.equal(parseGuestStats({ stats, 'last-update': 0 }), undefined);
  assert.equal(parseGuestStats({ stats: { ...stats, 'stat-available-memory': -1 }, 'last-update': 5 }), undefined);
});
