import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlkioV1, parseIoStatV2, readCgroupUsage } from './cgroup-usage.js';

test('blkio v1 and io.stat v2 lines are summed over devices', () => {
  assert.deepEqual(parseBlkioV1('8:0 Read 100\n8:0 Write 7\n8:0 Sync 107\n8:0 Total 107\n8:16 Read 5\nTotal 112\n'), { read: 105, write: 7 });
  assert.deepEqual(parseIoStatV2('8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=5 wbytes=0 rios=1 wios=0\n'), { readBytes: 15, writeBytes: 20, reads: 2, writes: 2 });
});

test('a v1 tree and a v2 tree give the same usage; a missing cgroup gives undefined', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nimbo-cg-'));
  try {
    const put = (p: string, v: string) => {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), v);
    };
    put('v1/cpuacct/nimbo-x/u1/cpuacct.usage', '2500000000\n');
    put('v1/memory/nimbo-x/u1/memory.usage_in_bytes', '4096\n');
    put('v1/pids/nimbo-x/u1/pids.current', '3\n');
    put('v1/blkio/nimbo-x/u1/blkio.throttle.io_service_bytes_recursive', '8:0 Read 100\n8:0 Write 200\n');
    put('v1/blkio/nimbo-x/u1/blkio.throttle.io_serviced_recursive', '8:0 Read 1\n8:0 Write 2\n');
    put('v2/cgroup.controllers', 'cpu memory io pids\n');
    put('v2/nimbo-x/u1/cpu.stat', 'usage_usec 2500000\nuser_usec 1\n');
    put('v2/nimbo-x/u1/memory.current', '4096\n');
    put('v2/nimbo-x/u1/pids.current', '3\n');
    put('v2/nimbo-x/u1/io.stat', '8:0 rbytes=100 wbytes=200 rios=1 wios=2\n');
    const want = { cpuSeconds: 2.5, memoryBytes: 4096, pids: 3, disk: { readBytes: 100, writeBytes: 200, reads: 1, writes: 2 } };
    assert.deepEqual(await readCgroupUsage('/nimbo-x/u1', join(root, 'v1')), want);
    assert.deepEqual(await readCgroupUsage('/nimbo-x/u1', join(root, 'v2')), want);
    assert.equal(await readCgroupUsage('/nimbo-x/gone', join(root, 'v1')), undefined);
    assert.equal(await readCgroupUsage('/nimbo-x/gone', join(root, 'v2')), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
