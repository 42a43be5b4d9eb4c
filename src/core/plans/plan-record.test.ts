import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../lib/errors.js';
import { formatPrice, newPlanRecord, parsePrice, patchPlanRecord, toPlan } from './plan-record.js';
import { allocateSlice, NO_SLICES, releaseSlice, sharedCores } from './slices.js';
import { cpusetList, parseCpusetList } from '../../lib/cpuset.js';

test('prices are integer micro-units: parsed from decimal strings, printed back without float error', () => {
  assert.equal(parsePrice('0.0125'), 12500);
  assert.equal(parsePrice('1'), 1_000_000);
  assert.equal(parsePrice('0.000001'), 1);
  assert.equal(parsePrice('123456789.999999'), 123456789999999);
  for (const bad of ['', '1.', '.5', '1e3', '-1', '0.0000001', '1,5', ' 1']) assert.throws(() => parsePrice(bad), (e: NimboError) => e.code === 'InvalidArgument', bad);
  assert.equal(formatPrice(12500), '0.0125');
  assert.equal(formatPrice(1_000_000), '1.00');
  assert.equal(formatPrice(100_000), '0.10');
  assert.equal(formatPrice(1), '0.000001');
  // 0.1 + 0.2 in micro-units is exact.
  assert.equal(formatPrice(parsePrice('0.1') + parsePrice('0.2')), '0.30');
});

test('a plan record: defaults, the API view, a patch keeps name and creation time', () => {
  const r = newPlanRecord({ name: 'p', vcpus: 2, memoryMiB: 1024, diskGiB: 20, pricePerHour: '0.02' }, false, new Date(0));
  assert.deepEqual(toPlan(r), {
    name: 'p', class: 'shared', vcpus: 2, memoryMiB: 1024, diskGiB: 20, transferGiBPerMonth: 0, pricePerHour: '0.02', cpuWeight: 100,
    disk: { readBps: 0, writeBps: 0, readIops: 0, writeIops: 0 }, network: { inMbit: 0, outMbit: 0 }, description: '', builtin: false, createdAt: '1970-01-01T00:00:00.000Z',
  });
  const p = patchPlanRecord(r, { class: 'dedicated', network: { inMbit: 50 }, pricePerHour: '1.5' });
  assert.deepEqual([p.name, p.class, p.network, p.priceMicros, p.createdAt], ['p', 'dedicated', { inMbit: 50, outMbit: 0 }, 1_500_000, r.createdAt]);
  assert.throws(() => patchPlanRecord(r, { disk: { writeBps: 10 } }), /at least 1048576/);
});

test('slices: cores are never shared between dedicated instances; release gives them back; shared cores are the rest', () => {
  const host = { cpus: 4, memoryMiB: 4096, reserveCores: 1, reserveMiB: 512 };
  let s = allocateSlice(NO_SLICES, host, 'a', 2, 1024);
  s = allocateSlice(s, host, 'b', 1, 1024);
  assert.deepEqual(s.cores, { a: [1, 2], b: [3] });
  assert.deepEqual(allocateSlice(s, host, 'a', 2, 1024), s, 'already allocated: unchanged');
  assert.deepEqual(sharedCores(s, host), [0]);
  assert.throws(() => allocateSlice(s, host, 'c', 1, 64), /1 dedicated core\(s\) asked, 0 left \(the host has 4, keeps 1/);
  s = releaseSlice(s, 'a');
  assert.deepEqual(sharedCores(s, host), [0, 1, 2]);
  assert.deepEqual(allocateSlice(s, host, 'c', 2, 2560).cores.c, [1, 2]);
  assert.throws(() => allocateSlice(s, host, 'c', 2, 2561), /2561 MiB of memory asked, 2560 MiB left to reserve/);
});

test('cpuset lists', () => {
  assert.equal(cpusetList([5, 0, 1, 2, 2]), '0-2,5');
  assert.equal(cpusetList([3]), '3');
  assert.deepEqual(parseCpusetList('0-2,5\n'), [0, 1, 2, 5]);
  assert.throws(() => parseCpusetList('a'));
});
