import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withGuestFrozen } from './guest-freeze.js';
import { fakeGuestAgent } from './fake-guest-agent.js';

/** A fake agent that tracks the freeze state and the order of freeze, the instant and thaw. */
async function freezer(opts: { failFreeze?: boolean; failThawOnce?: boolean } = {}) {
  const order: string[] = [];
  let frozen = false;
  let thawFails = opts.failThawOnce ? 1 : 0;
  const f = await fakeGuestAgent((cmd) => {
    order.push(cmd);
    if (cmd === 'guest-fsfreeze-freeze') {
      if (opts.failFreeze) return { error: { class: 'GenericError', desc: 'freeze failed' } };
      frozen = true;
      return { return: 2 };
    }
    if (cmd === 'guest-fsfreeze-thaw') {
      if (thawFails-- > 0) return { error: { class: 'GenericError', desc: 'thaw hiccup' } };
      frozen = false;
      return { return: 2 };
    }
    return { return: {} };
  });
  return { f, order, isFrozen: () => frozen };
}

test('the instant runs frozen, then the guest is thawed: application-consistent', async () => {
  const { f, order, isFrozen } = await freezer();
  try {
    const r = await withGuestFrozen(f.path, async () => {
      order.push('instant');
      assert.equal(isFrozen(), true);
      return 42;
    });
    assert.equal(r.result, 42);
    assert.equal(r.consistency, 'application');
    assert.equal(r.filesystems, 2);
    assert.ok(typeof r.frozenMs === 'number');
    assert.deepEqual(order, ['guest-fsfreeze-freeze', 'instant', 'guest-fsfreeze-thaw']);
    assert.equal(isFrozen(), false);
  } finally {
    f.done();
  }
});

test('a failing instant still thaws (and its error comes through); a failed thaw is tried again', async () => {
  const { f, isFrozen } = await freezer({ failThawOnce: true });
  try {
    const lines: string[] = [];
    await assert.rejects(withGuestFrozen(f.path, async () => {
      throw new Error('qmp broke');
    }, { log: (l) => lines.push(l) }), /qmp broke/);
    assert.equal(isFrozen(), false);
    assert.ok(lines.some((l) => /thaw failed/.test(l)));
  } finally {
    f.done();
  }
});

test('a freeze the agent refuses: crash-consistent, thawed anyway', async () => {
  const { f, order } = await freezer({ failFreeze: true });
  try {
    const r = await withGuestFrozen(f.path, async () => 'done');
    assert.deepEqual([r.result, r.consistency], ['done', 'crash']);
    assert.deepEqual(order, ['guest-fsfreeze-freeze', 'guest-fsfreeze-thaw']);
  } finally {
    f.done();
  }
});

test('no agent answering: the instant runs unfrozen, crash-consistent, after the connect timeout', async () => {
  const f = await fakeGuestAgent(() => ({ return: {} }), { sync: false });
  try {
    const t0 = Date.now();
    const r = await withGuestFrozen(f.path, async () => 'x', { connectTimeoutMs: 200 });
    assert.deepEqual([r.result, r.consistency], ['x', 'crash']);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(f.seen.map((m) => m.execute), ['guest-sync-delimited']);
  } finally {
    f.done();
  }
  const r = await withGuestFrozen('/nonexistent/qga.sock', async () => 'y');
  assert.equal(r.consistency, 'crash');
});
