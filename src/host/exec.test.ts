import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runArgv } from './exec.js';

test('runArgv kills a command whose output passes the cap and fails with a clear error', async () => {
  await assert.rejects(runArgv(['sh', '-c', 'yes'], { maxOutputBytes: 1024 * 1024 }), /output too large: stdout passed 1048576 bytes/);
  await assert.rejects(runArgv(['sh', '-c', 'yes >&2'], { maxOutputBytes: 4096, allowFailure: true }), /stderr passed 4096 bytes/);
  const ok = await runArgv(['sh', '-c', 'head -c 1000 /dev/zero'], { maxOutputBytes: 1000 });
  assert.equal(ok.stdout.length, 1000);
});

test('runArgv holds no more than its default cap of an endless output (the daemon does not grow)', async () => {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    await assert.rejects(runArgv(['head', '-c', String(300 * 1024 * 1024), '/dev/zero']), /output too large/);
  } finally {
    clearInterval(sampler);
  }
  const grew = (peak - before) / 1024 / 1024;
  assert.ok(grew < 160, `RSS grew ${grew.toFixed(0)} MiB while a command printed 300 MiB`);
});

test('runArgv hands extra open fds to the command as fds 3, 4, ... (a file it could not open itself)', async () => {
  const { mkdtemp, open, rm, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'exec-fds-'));
  try {
    await writeFile(join(dir, 'a'), 'first');
    await writeFile(join(dir, 'b'), 'second', { mode: 0o600 });
    const a = await open(join(dir, 'a'), 'r');
    const b = await open(join(dir, 'b'), 'r');
    try {
      const r = await runArgv(['sh', '-c', 'cat <&3; echo; cat <&4'], { fds: [a.fd, b.fd] });
      assert.equal(r.stdout, 'first\nsecond');
    } finally {
      await a.close();
      await b.close();
    }
    // Without the option the command gets no fd 3.
    const none = await runArgv(['sh', '-c', 'cat <&3'], { allowFailure: true });
    assert.notEqual(none.code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
