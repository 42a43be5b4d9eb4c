import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pending } from './ports.js';
import { mergePending, PassQueue } from './pass-queue.js';

const exited = (requested: boolean): Pending => ({ why: 'event', event: { type: 'exited', uuid: 'u', exitCode: 0, requested } });

test('merging keeps the stronger why and the last exit event', () => {
  assert.deepEqual(mergePending({ why: 'resync' }, { why: 'host-boot' }).why, 'host-boot');
  assert.deepEqual(mergePending({ why: 'daemon-start' }, { why: 'resync' }).why, 'daemon-start');
  assert.deepEqual(mergePending(exited(true), { why: 'resync' }), { why: 'event', event: exited(true).event });
  assert.deepEqual(mergePending(exited(true), { why: 'event', event: { type: 'resumed', uuid: 'u' } }).event, exited(true).event);
  assert.deepEqual(mergePending(exited(true), exited(false)).event, exited(false).event);
});

test('one pass per key at a time; what arrives meanwhile becomes one more pass', async () => {
  const seen: Pending[] = [];
  let release!: () => void;
  const q = new PassQueue(async (_u, p) => {
    seen.push(p);
    if (seen.length === 1) await new Promise<void>((r) => (release = r));
  }, () => undefined);
  q.enqueue('a', { why: 'resync' });
  await new Promise((r) => setImmediate(r));
  q.enqueue('a', exited(true));
  q.enqueue('a', { why: 'resync' });
  release();
  await q.idle();
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[1], exited(true));
});

test('a delay replaced by another keeps what the first carried', async () => {
  const seen: Pending[] = [];
  const q = new PassQueue(async (_u, p) => void seen.push(p), () => undefined);
  q.later('a', 5, exited(true));
  q.later('a', 10, { why: 'event' });
  await new Promise((r) => setTimeout(r, 30));
  await q.idle();
  assert.deepEqual(seen, [exited(true)]);
  q.close();
});
