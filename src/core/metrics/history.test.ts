import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsHistory } from './history.js';
import { DEFAULT_SHAPE, ringBytes } from './history-ring.js';

const T0 = 1_700_000_100;

test('history files: fixed size, mode 0600, read back after a restart, removed with their instance', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-mhist-'));
  try {
    const h = new MetricsHistory(join(dir, 'metrics'));
    assert.deepEqual(h.read('aaaa-1', 2, 60, T0).series[0].filter((v) => v !== null), []);
    await h.flush();
    assert.deepEqual(readdirSync(join(dir, 'metrics')), [], 'a read makes no file');
    for (let i = 0; i < 10; i++) {
      h.put('aaaa-1', T0 + i * 10, [i, 2 * i]);
      h.put('bbbb-2', T0 + i * 10, [1, 1]);
    }
    await h.flush();
    const file = join(dir, 'metrics', 'aaaa-1.ring');
    assert.equal(statSync(file).size, ringBytes({ ...DEFAULT_SHAPE, series: 2 }));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'metrics')).mode & 0o777, 0o700);
    h.put('aaaa-1', T0 + 100, [10, 20]); // flushed by slot
    await h.flush();
    const again = new MetricsHistory(join(dir, 'metrics'));
    assert.deepEqual(again.read('aaaa-1', 2, 120, T0 + 100), h.read('aaaa-1', 2, 120, T0 + 100));
    assert.equal(again.read('aaaa-1', 2, 120, T0 + 100).series[1].at(-1), 20);
    again.retain(new Set(['aaaa-1']));
    assert.deepEqual(readdirSync(join(dir, 'metrics')), ['aaaa-1.ring']);
    assert.throws(() => again.put('../x', T0, [1, 1]), /not valid/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
