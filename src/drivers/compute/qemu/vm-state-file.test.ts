import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INCOMING_FD, incomingFdUri, openStateFile } from './vm-state-file.js';

test('a warm start reads its saved state from fd 3 (the first after stdio): migrate-incoming fd:3', () => {
  assert.equal(INCOMING_FD, 3);
  assert.equal(incomingFdUri(), 'fd:3');
  assert.equal(incomingFdUri(5), 'fd:5');
  for (const bad of [0, 1, 2, -1, 3.5, Number.NaN]) assert.throws(() => incomingFdUri(bad), /invalid incoming fd/);
});

test('a missing saved state fails before QEMU starts, naming the file', async () => {
  await assert.rejects(openStateFile('/nonexistent/tpl/state.bin'), (e: unknown) => (e as { code?: string }).code === 'NotFound' && /\/nonexistent\/tpl\/state\.bin cannot be opened/.test((e as Error).message));
});
