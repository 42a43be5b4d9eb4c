// POST /instances/{name}/volumes through the real server, auth and core services (SqliteStore), host side faked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { attachFixture } from '../core/testing/attach-fixture.js';

test('20 concurrent POST /instances/vmN/volumes of one volume: one 202, nineteen 409s with one clear sentence', async () => {
  const t = await attachFixture(20);
  const token = await ensureAdminToken(t.store, join(t.dir, 'admin.token'));
  const app = await buildServer({ log: silentLogger(), store: t.store, ops: t.ops, instances: t.svc, storage: t.storage, instanceVolumes: t.volumes } as unknown as ApiContext);
  try {
    const replies = await Promise.all(
      t.names.map((n) => app.inject({ method: 'POST', url: `/api/v1/instances/${n}/volumes`, payload: { pool: 'default', volume: 'data' }, headers: { authorization: `Bearer ${token}` } })),
    );
    const accepted = replies.filter((r) => r.statusCode === 202);
    const refused = replies.filter((r) => r.statusCode === 409);
    assert.equal(accepted.length, 1, replies.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    assert.equal(refused.length, 19);
    const winner = t.names[replies.indexOf(accepted[0]!)]!;
    for (const r of refused) assert.deepEqual(r.json().error, { code: 'Conflict', message: `volume default/data is already attached to ${winner}` });
    const op = await t.ops.wait(accepted[0]!.json().operation.id, 5000);
    assert.equal(op.status, 'success', JSON.stringify(op.error));
    assert.equal((await t.storage.meta('default', 'default', 'data')).attachedTo, winner);
  } finally {
    await app.close();
    await t.done();
  }
});
