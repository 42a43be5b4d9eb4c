import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Operation } from '../shared/api-types.js';
import { CliError } from './errors.js';
import { followOperation, type OperationWaiter } from './progress.js';

function op(over: Partial<Operation> = {}): Operation {
  return { id: 'op-1', kind: 'image.build', target: 'tiny', status: 'running', progress: 0, log: [], createdAt: '', updatedAt: '', ...over };
}

/** A waiter that answers the given operations in turn. */
function script(...steps: (Operation | Error)[]): OperationWaiter & { calls: number } {
  const w = {
    calls: 0,
    async waitOperation() {
      const s = steps[Math.min(w.calls++, steps.length - 1)]!;
      if (s instanceof Error) throw s;
      return s;
    },
  };
  return w;
}

test('on a TTY a bar is drawn, log lines go above it, and it is cleared at the end', async () => {
  const out: string[] = [];
  const stream = { isTTY: true, columns: 60, write: (s: string) => out.push(s) };
  await followOperation(script(op({ progress: 50, log: ['fetching'] }), op({ status: 'success', progress: 100, log: ['fetching'] })), op(), {
    stream,
    detachOnInterrupt: false,
  });
  const text = out.join('');
  assert.match(text, /image\.build tiny \[-+\]   0%/);
  assert.match(text, /\r\x1b\[Kfetching\n/);
  assert.match(text, /\[#{10,}-{10,}\]  50%/);
  assert.match(text, /\[#+\] 100%/);
  assert.ok(text.endsWith('\r\x1b[K'), 'bar cleared at the end');
});

test('quiet draws nothing; an already finished operation needs no wait', async () => {
  const out: string[] = [];
  const w = script(op());
  const final = await followOperation(w, op({ status: 'success', progress: 100 }), { quiet: true, stream: { write: (s: string) => out.push(s) } });
  assert.equal(final.status, 'success');
  assert.equal(w.calls, 0);
  assert.deepEqual(out, []);
});

test('cancelled operations and timeouts are errors', async () => {
  await assert.rejects(followOperation(script(op({ status: 'cancelled' })), op(), { quiet: true, detachOnInterrupt: false }), /op-1 \(image\.build tiny\) was cancelled/);
  await assert.rejects(followOperation(script(op({ progress: 10 })), op(), { quiet: true, timeoutS: 1, detachOnInterrupt: false }), {
    message: 'operation op-1 (image.build tiny) is still running after 1s',
  });
});

test('a daemon restarting mid-wait is retried; other errors are not', async () => {
  const down = new CliError('cannot reach nimbod', { kind: 'unreachable' });
  const final = await followOperation(script(down, op({ status: 'success', progress: 100 })), op(), { quiet: true, detachOnInterrupt: false });
  assert.equal(final.status, 'success');
  const gone = new CliError('operation op-1 not found', { kind: 'api', status: 404 });
  await assert.rejects(followOperation(script(gone), op(), { quiet: true, detachOnInterrupt: false }), /not found/);
  await assert.rejects(followOperation(script(down), op(), { quiet: true, retryUnreachableMs: 0, detachOnInterrupt: false }), /cannot reach/);
});
