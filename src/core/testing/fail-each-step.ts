// "A failure at every step leaves nothing behind": run an action once to learn its steps (every fake
// driver, pool and wrapped service call it makes), then once per step in a fresh fixture with that one
// step failing; each run must fail and leave the store, the fake hosts and the pools as they were.
import assert from 'node:assert/strict';
import type { Operation } from '../../shared/api-types.js';
import { coreFixture, stepsBetween, type CoreFixture, type CoreFixtureOptions } from './core-fixture.js';

type Snapshot = Awaited<ReturnType<CoreFixture['snapshot']>>;

/** What one run of the action ended with: undefined on success, else the error message. */
export async function outcome(t: CoreFixture, act: (t: CoreFixture) => Promise<Operation>): Promise<string | undefined> {
  let op: Operation;
  try {
    op = await act(t);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const end = await t.wait(op);
  return end.status === 'success' ? undefined : (end.error?.message ?? end.status);
}

/** The steps `act` takes after `prepare` (checked to succeed). */
export async function stepsOf(prepare: (t: CoreFixture) => Promise<void>, act: (t: CoreFixture) => Promise<Operation>, opts: CoreFixtureOptions = {}): Promise<string[]> {
  const t = await coreFixture(opts);
  try {
    await prepare(t);
    const before = t.calls();
    assert.equal(await outcome(t, act), undefined, 'the action succeeds without injected failures');
    return stepsBetween(before, t.calls());
  } finally {
    await t.done();
  }
}

/** For each step: a fresh fixture, `prepare`, that step failing, `act` fails and `snapshot()` is unchanged; `check` may assert more. */
export async function assertEachStepLeavesNothing(
  steps: string[],
  prepare: (t: CoreFixture) => Promise<void>,
  act: (t: CoreFixture) => Promise<Operation>,
  opts: CoreFixtureOptions & {
    check?: (t: CoreFixture, step: string) => Promise<void>;
    /** Drop what a failed action may rightly leave changed (e.g. a volume's id owner after its files were shifted). */
    normalize?: (snap: Snapshot) => Snapshot;
  } = {},
): Promise<void> {
  for (const step of steps) {
    const t = await coreFixture(opts);
    try {
      await prepare(t);
      const norm = opts.normalize ?? ((s: Snapshot) => s);
      const before = norm(await t.snapshot());
      const [name, nth] = step.split('#') as [string, string];
      t.failAt(name, Number(nth));
      const err = await outcome(t, act);
      assert.match(err ?? 'succeeded', /injected failure/, `a failure at ${step} fails the action`);
      await t.ops.drain();
      assert.deepEqual(norm(await t.snapshot()), before, `nothing is left behind after a failure at ${step}`);
      await opts.check?.(t, step);
    } finally {
      await t.done();
    }
  }
}
