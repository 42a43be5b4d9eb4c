import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotScheduler, scheduleView } from './snapshot-scheduler.js';
import type { InstanceService } from './instance-service.js';
import type { InstanceSnapshots, InstanceSnapshot } from './instance-snapshots.js';
import type { InstanceRecord } from './instance-record.js';
import { silentLogger } from '../lib/log.js';

function fakes(rec: Partial<InstanceRecord>, existing: InstanceSnapshot[] = []) {
  const recs = [{ name: 'vm1', state: 'running', ...rec } as InstanceRecord];
  const created: { name?: string; stateful?: boolean; expiresAt?: string }[] = [];
  const removed: string[] = [];
  const svc = {
    allRecords: async () => recs,
    patch: async (_p: string, _n: string, change: Partial<InstanceRecord> | ((cur: InstanceRecord) => Partial<InstanceRecord>)) =>
      Object.assign(recs[0]!, typeof change === 'function' ? change(recs[0]!) : change),
  } as unknown as InstanceService;
  const snaps = {
    create: async (_p: string, _i: string, o: { name?: string; stateful?: boolean; expiresAt?: string }) => void created.push(o),
    list: async () => existing,
    remove: async (_p: string, _i: string, n: string) => void removed.push(n),
  } as unknown as InstanceSnapshots;
  return { sched: new SnapshotScheduler(svc, snaps, silentLogger()), created, removed, recs };
}

test('a due schedule takes one snapshot with its expiry and moves lastRun', async () => {
  const f = fakes({ snapshotSchedule: { cron: '0 * * * *', expiry: '2h', stateful: true, lastRun: '2026-11-28T09:59:00.000Z' } });
  await f.sched.tick(new Date('2026-11-28T10:00:30Z'));
  assert.equal(f.created.length, 1);
  assert.equal(f.created[0]!.name, 'auto-20261128-100030');
  assert.equal(f.created[0]!.stateful, true);
  assert.equal(f.created[0]!.expiresAt, '2026-11-28T12:00:30.000Z');
  assert.equal(f.recs[0]!.snapshotSchedule!.lastRun, '2026-11-28T10:00:30.000Z');
  await f.sched.tick(new Date('2026-11-28T10:20:00Z'));
  assert.equal(f.created.length, 1, 'not again before the next hour');
});

test('a stopped instance gets disk-only scheduled snapshots', async () => {
  const f = fakes({ state: 'stopped', snapshotSchedule: { cron: '@hourly', stateful: true, lastRun: '2026-11-28T09:30:00.000Z' } });
  await f.sched.tick(new Date('2026-11-28T10:00:00Z'));
  assert.equal(f.created[0]!.stateful, false);
});

test('expired snapshots are removed, others kept', async () => {
  const snap = (name: string, expiresAt?: string) => ({ name, instance: 'vm1', createdAt: '', stateful: false, disks: [], expiresAt }) as InstanceSnapshot;
  const f = fakes({}, [snap('old', '2026-11-28T09:00:00.000Z'), snap('new', '2026-11-28T11:00:00.000Z'), snap('keep')]);
  await f.sched.tick(new Date('2026-11-28T10:00:00Z'));
  assert.deepEqual(f.removed, ['old']);
});

test('scheduleView gives the next run after both the last check and now', () => {
  const s = { cron: '0 3 * * SUN', lastRun: '2026-11-28T09:00:00.000Z' };
  assert.equal(scheduleView(s, new Date('2026-12-04T20:00:00Z')).nextRun, '2026-12-06T03:00:00.000Z');
  assert.equal(scheduleView({ ...s, lastRun: '2026-12-06T03:00:00.000Z' }, new Date('2026-12-04T20:00:00Z')).nextRun, '2026-12-13T03:00:00.000Z');
  assert.equal(scheduleView({ cron: '@yearly', lastRun: '2026-12-04T20:00:00.000Z' }, new Date('2026-12-04T20:00:00Z')).nextRun, '2027-01-01T00:00:00.000Z');
  assert.equal(scheduleView({ cron: '0 0 31 2 *', lastRun: '2026-12-04T20:00:00.000Z' }).nextRun, undefined, 'never fires: no next run');
});
