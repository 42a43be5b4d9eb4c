// POST /instances/{name}/actions through the real server and auth: the body schema (types, arguments,
// bounds) and the 202 + Location answer; the service is recorded, not run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer } from './server.js';
import type { ApiContext } from './context.js';
import { ensureAdminToken } from '../core/auth.js';
import { silentLogger } from '../lib/log.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { VpsAction } from '../shared/vps-action-types.js';

test('POST /instances/{name}/actions: 202 with the Operation and its Location; 400 for unknown types, fields and bounds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-vpsact-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const calls: [string, VpsAction][] = [];
  const op = { id: 'op-1', kind: 'instance.rebuild', target: 'web', status: 'running', progress: 0, log: [], createdAt: '2026-12-05T00:00:00.000Z', updatedAt: '2026-12-05T00:00:00.000Z' };
  const ctx = { log: silentLogger(), store, vpsActions: { act: async (project: string, name: string, req: VpsAction) => (calls.push([`${project}/${name}`, req]), op) } } as unknown as ApiContext;
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const app = await buildServer(ctx);
  const post = (payload: unknown, name = 'web') => app.inject({ method: 'POST', url: `/api/v1/instances/${name}/actions`, payload: payload as object, headers: { authorization: `Bearer ${token}` } });
  try {
    const ok = await post({ type: 'rebuild', image: 'debian-12' });
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal(ok.headers.location, '/api/v1/operations/op-1');
    assert.equal(ok.json().operation.id, 'op-1');
    assert.deepEqual(calls, [['default/web', { type: 'rebuild', image: 'debian-12' }]]);
    for (const bad of [
      { type: 'explode' },
      {},
      { type: 'reboot', color: 'red' },
      { type: 'reboot', timeout: 0 },
      { type: 'resize', vcpus: 1000 },
      { type: 'rename', name: 'Not A Name' },
      { type: 'rebuild', image: '../etc' },
      { type: 'ssh_keys', keys: Array.from({ length: 65 }, () => 'k') },
      { type: 'password_reset', password: 'short' },
    ]) {
      const r = await post(bad);
      assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
      assert.equal(r.json().error.code, 'InvalidArgument');
    }
    assert.equal(calls.length, 1, 'no refused request reached the service');
    // Without a token: refused (the route is not public).
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/instances/web/actions', payload: { type: 'reboot' } })).statusCode, 401);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
