import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { advance, counterDelta, firstCheckpoint, type Checkpoint, type HourRow, type MeterSample } from './meter-math.js';
import { Meter, rollup, type MonthRow } from './meter-service.js';
import { UsageService, buildReport, reportCsv } from './usage-service.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { silentLogger } from '../../lib/log.js';

const T0 = Date.parse('2026-11-30T23:30:00Z');
const MIN = 60_000;
const GB = 1e9;

function sample(at: number, over: Partial<MeterSample> = {}): MeterSample {
  return { uuid: 'u1', project: 'alpha', name: 'web', plan: 'small', running: true, diskBytes: 10 * GB, nics: { tap0: { ifindex: 7, rx: 0, tx: 0 } }, at, ...over };
}

/** Feed samples through the pure accounting; returns every closed hour and the last checkpoint. */
function run(samples: MeterSample[], restartAfter?: number): { closed: HourRow[]; cp: Checkpoint } {
  let cp = firstCheckpoint(samples[0]!);
  const closed: HourRow[] = [];
  samples.slice(1).forEach((s, i) => {
    const r = advance(cp, s);
    closed.push(...r.closed);
    // A restart: only what was persisted (JSON) survives.
    cp = i === restartAfter ? (JSON.parse(JSON.stringify(r.checkpoint)) as Checkpoint) : r.checkpoint;
  });
  return { closed, cp };
}

test('running time and disk are split at hour (and month) boundaries, charged with the previous sample\'s state', () => {
  const { closed, cp } = run([sample(T0), sample(T0 + 45 * MIN, { running: false }), sample(T0 + 90 * MIN)]);
  // 23:30-00:15 running small (30 min in Nov, 15 in Dec), 00:15-01:00 stopped.
  assert.deepEqual(closed.map((h) => [h.hour, h.usage.seconds]), [['2026-11-30T23', { small: 1800 }], ['2026-12-01T00', { small: 900 }]]);
  assert.equal(closed[0]!.usage.diskGbSeconds, 10 * 1800, 'disk counts whether running or not');
  assert.equal(closed[1]!.usage.diskGbSeconds, 10 * 3600);
  assert.equal(cp.hour, '2026-12-01T01');
  const rows = rollup(new Map<string, MonthRow>(), closed);
  assert.deepEqual([...rows.keys()], ['alpha/2026-11/u1', 'alpha/2026-12/u1']);
});

test('a plan change mid-hour splits the hour between plans', () => {
  const { closed } = run([sample(T0 + 30 * MIN), sample(T0 + 40 * MIN, { plan: 'large' }), sample(T0 + 90 * MIN)]);
  assert.deepEqual(closed[0]!.usage.seconds, { small: 600, large: 3000 });
});

test('transfer: counter growth per device; a recreated device (new ifindex or smaller value) counts from zero', () => {
  assert.equal(counterDelta({ ifindex: 1, v: 100 }, { ifindex: 1, v: 150 }), 50);
  assert.equal(counterDelta({ ifindex: 1, v: 100 }, { ifindex: 1, v: 30 }), 30, 'reset to zero and grew by 30');
  assert.equal(counterDelta({ ifindex: 1, v: 100 }, { ifindex: 2, v: 500 }), 500, 'recreated, already past the old value');
  assert.equal(counterDelta(undefined, { ifindex: 1, v: 70 }), 70, 'a device seen for the first time');
  const s = (at: number, ifindex: number, rx: number, tx: number) => sample(at, { nics: { tap0: { ifindex, rx, tx } } });
  const { cp } = run([s(T0 + 31 * MIN, 7, 1000, 5000), s(T0 + 32 * MIN, 7, 1500, 5600), s(T0 + 33 * MIN, 9, 200, 100), sample(T0 + 34 * MIN, { nics: {} }), s(T0 + 35 * MIN, 9, 300, 100)]);
  // Host rx is what the guest sent (out), host tx what it received (in).
  assert.equal(cp.usage.outBytes, 500 + 200 + 100);
  assert.equal(cp.usage.inBytes, 600 + 100 + 0);
});

test('a restart (checkpoint reloaded from JSON) neither loses nor double-counts', () => {
  const samples = Array.from({ length: 200 }, (_, i) => sample(T0 + i * MIN + (i % 7) * 1000, { running: i % 50 < 40, nics: { tap0: { ifindex: i < 120 ? 7 : 8, rx: (i % 120) * 1000, tx: (i % 120) * 3000 } } }));
  const a = run(samples);
  const b = run(samples, 77);
  assert.deepEqual(b, a);
});

test('the meter commits checkpoints and rollups together: a daemon restarted mid-month reports the same usage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-meter-'));
  const stores = [new SqliteStore(join(dir, 'a.db')), new SqliteStore(join(dir, 'b.db'))];
  try {
    const instances = (i: number): MeterSample[] => [
      sample(0, { nics: { tap0: { ifindex: 3, rx: i * 100, tx: i * 10 } } }),
      sample(0, { uuid: 'u2', name: 'db', plan: 'large', running: i < 90, diskBytes: 2 * GB, nics: {} }),
      ...(i < 150 ? [sample(0, { uuid: 'u3', project: 'beta', name: 'web' })] : []), // deleted at minute 150
    ];
    const ticks = 240;
    // Daemon A runs without a break; daemon B stops at minute 100 and starts again 30 minutes later (a gap is
    // charged with the state before it, so no instance changes state inside the gap here).
    let now = T0;
    let i = 0;
    const a = new Meter(stores[0]!, async () => instances(i), silentLogger(), () => now);
    for (i = 0; i < ticks; i++, now = T0 + i * MIN) await a.tick();
    now = T0;
    let b = new Meter(stores[1]!, async () => instances(i), silentLogger(), () => now);
    for (i = 0; i < ticks; i++, now = T0 + i * MIN) {
      if (i >= 100 && i < 130) continue; // the daemon is down: no samples
      if (i === 130) b = new Meter(stores[1]!, async () => instances(i), silentLogger(), () => now);
      await b.tick();
    }
    const month = '2026-12';
    const ra = await new UsageService(stores[0]!).report('alpha', month);
    const rb = await new UsageService(stores[1]!).report('alpha', month);
    assert.deepEqual(rb, ra);
    const web = ra.instances.find((x) => x.name === 'web')!;
    // Dec starts at minute 30: web ran 239-30 = 209 minutes of December.
    assert.equal(web.instanceHours.small, Math.round((209 / 60) * 1e4) / 1e4);
    assert.equal(web.transferOutBytes, (239 - 29) * 100, 'the bytes of December samples');
    assert.deepEqual(ra.totals.instanceHours, { large: 1, small: web.instanceHours.small });
    const beta = await new UsageService(stores[0]!).report('beta', month);
    assert.equal(beta.instances.length, 1);
    assert.equal(beta.instances[0]!.instanceHours.small, Math.round((119 / 60) * 1e4) / 1e4, 'deleted at 150: charged up to its last sample');
    assert.deepEqual(await new UsageService(stores[0]!).report('gamma', month), { project: 'gamma', month, instances: [], totals: { instanceHours: {}, diskGbHours: 0, transferInBytes: 0, transferOutBytes: 0 } });
    await assert.rejects(new UsageService(stores[0]!).report('alpha', '2026-13'), /YYYY-MM/);
  } finally {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: a header, a line per instance and plan, a total; cells that a spreadsheet would run are quoted', () => {
  const r = buildReport('alpha', '2026-12', [
    { uuid: 'u1', project: 'alpha', name: '=cmd', month: '2026-12', hours: { '2026-12-01T00': { seconds: { small: 3600, large: 1800 }, diskGbSeconds: 36000, inBytes: 5, outBytes: 7 } } },
  ], []);
  assert.equal(
    reportCsv(r),
    'project,month,instance,name,plan,instance_hours,disk_gb_hours,transfer_in_bytes,transfer_out_bytes\r\n' +
      'alpha,2026-12,u1,"=cmd",large,0.5,10,5,7\r\n' +
      'alpha,2026-12,u1,"=cmd",small,1,0,0,0\r\n' +
      'alpha,2026-12,TOTAL,,large,0.5,10,5,7\r\n' +
      'alpha,2026-12,TOTAL,,small,1,0,0,0\r\n',
  );
});
