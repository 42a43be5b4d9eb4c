import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FRAME, FRAME_MAX, FrameDecoder } from './exec-frames.js';

test('frames decode back whatever the chunking', () => {
  const stream = Buffer.concat([encodeFrame(FRAME.stdout, Buffer.from('hello ')), encodeFrame(FRAME.stderr, Buffer.from('oops')), encodeFrame(FRAME.stdout, Buffer.from('world')), encodeFrame(FRAME.exit, Buffer.from('7'))]);
  for (const step of [1, 2, 3, 7, stream.length]) {
    let out = '';
    let err = '';
    let code = -1;
    const dec = new FrameDecoder({ stdout: (b) => (out += b.toString()), stderr: (b) => (err += b.toString()), exit: (c) => (code = c) });
    for (let i = 0; i < stream.length; i += step) dec.push(stream.subarray(i, i + step));
    assert.deepEqual([out, err, code, dec.ended], ['hello world', 'oops', 7, true]);
  }
});

test('a frame larger than FRAME_MAX or of an unknown kind is refused, not buffered', () => {
  const dec = new FrameDecoder({ stdout: () => {}, stderr: () => {}, exit: () => {} });
  const head = Buffer.alloc(5);
  head[0] = FRAME.stdout;
  head.writeUInt32BE(FRAME_MAX + 1, 1);
  assert.throws(() => dec.push(head), /bad frame/);
  assert.throws(() => new FrameDecoder({ stdout: () => {}, stderr: () => {}, exit: () => {} }).push(Buffer.from([9, 0, 0, 0, 0])), /bad frame/);
});
