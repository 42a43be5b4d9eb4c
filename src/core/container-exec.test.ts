import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { FrameDecoder } from '../shared/exec-frames.js';
import { ChildOutput, collectCapped, EXEC_TIMED_OUT } from './container-exec.js';

const sh = (script: string) => spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });

test('collectCapped keeps at most the cap of each stream and says it truncated', async () => {
  const r = await collectCapped(sh('head -c 5000000 /dev/zero; echo err >&2; exit 4'), undefined, 30_000, 1000);
  assert.deepEqual([r.code, r.stdout.length, r.stderr.toString(), r.truncated], [4, 1000, 'err\n', { stdout: true, stderr: false }]);
  const small = await collectCapped(sh('cat'), 'input', 30_000, 1000);
  assert.deepEqual([small.stdout.toString(), small.truncated.stdout], ['input', false]);
  await assert.rejects(collectCapped(sh('exec sleep 30'), undefined, 200), /did not finish in 0 s/);
});

test('ChildOutput streams frames only as fast as they are read, and ends with the exit frame', async () => {
  const out = new ChildOutput(sh('yes | head -c 20000000; exit 5'), { framed: true }).start();
  // Nobody reads for a while: the command is held back by the full pipes, the stream holds little.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(out.readableLength <= 256 * 1024, `buffered ${out.readableLength} bytes unread`);
  let bytes = 0;
  let code = -1;
  const dec = new FrameDecoder({ stdout: (b) => (bytes += b.length), stderr: () => {}, exit: (c) => (code = c) });
  for await (const c of out) dec.push(c as Buffer);
  assert.deepEqual([bytes, code], [20000000, 5]);
});

test('ChildOutput: a timeout ends the command with 124; a byte cap cuts a raw transfer with an error', async () => {
  const timed = new ChildOutput(sh('exec sleep 30'), { framed: true }).start(undefined, 200);
  let code = -1;
  let err = '';
  const dec = new FrameDecoder({ stdout: () => {}, stderr: (b) => (err += b.toString()), exit: (c) => (code = c) });
  for await (const c of timed) dec.push(c as Buffer);
  assert.equal(code, EXEC_TIMED_OUT);
  assert.match(err, /did not finish/);
  const capped = new ChildOutput(sh('exec cat /dev/zero'), { framed: false, maxBytes: 1_000_000 }).start();
  await assert.rejects(async () => {
    for await (const _ of capped) void _;
  }, /transfer cut: it passed 1000000 bytes/);
});
