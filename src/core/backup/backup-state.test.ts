import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeState, encodeState } from './backup-state.js';

test('state files round-trip through their archive bytes; anything else is refused', () => {
  const files = [{ name: 'nvram.fd', data: Buffer.from([0, 1, 2, 255]) }, { name: 'tpm/tpm2-00.permall', data: Buffer.alloc(1315, 9) }];
  assert.deepEqual(decodeState(encodeState(files), 'b'), files);
  assert.deepEqual(decodeState(encodeState([]), 'b'), []);
  assert.throws(() => decodeState(Buffer.from('{"format":2,"files":[]}'), 'backup x'), /backup x: its state archive/);
  assert.throws(() => decodeState(Buffer.from('{"format":1,"files":[{"name":1}]}'), 'backup x'), /not a format-1/);
});
