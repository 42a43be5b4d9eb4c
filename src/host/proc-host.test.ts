import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMemInfo, parseProcStat, readHostCounters } from './proc-host.js';

test('/proc/stat: the aggregate line in seconds by mode, cores counted from the cpuN lines', () => {
  const s = parseProcStat('cpu  100 5 200 10000 30 0 7 0 0 0\ncpu0 50 5 100 5000 15 0 3 0 0 0\ncpu1 50 0 100 5000 15 0 4 0 0 0\nintr 1\n');
  assert.deepEqual(s.cpuSeconds, { user: 1, nice: 0.05, system: 2, idle: 100, iowait: 0.3, irq: 0, softirq: 0.07, steal: 0 });
  assert.equal(s.cores, 2);
  assert.throws(() => parseProcStat('intr 1\n'), /no cpu line/);
});

test('/proc/meminfo: total and available in bytes', () => {
  assert.deepEqual(parseMemInfo('MemTotal:       2048 kB\nMemFree:   10 kB\nMemAvailable:    1024 kB\n'), { totalBytes: 2048 * 1024, availableBytes: 1024 * 1024 });
});

test('the real host answers plausible numbers', async () => {
  const h = await readHostCounters();
  assert.ok(h.cores >= 1 && h.cpuSeconds.idle > 0 && h.memoryTotalBytes > h.memoryAvailableBytes && h.memoryAvailableBytes > 0 && h.load1 >= 0);
});
