// PATCH /instances/{name} through the real server, auth and InstanceUpdate on a SqliteStore; the view and
// the network/firewall refreshes are recorded instead of touching a host.
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
import { EventBus } from '../core/events.js';
import { OperationManager } from '../core/operations.js';
import { statePaths } from '../core/config.js';
import { keys } from '../store/keys.js';
import { toInstance, type InstanceRecord } from '../core/instance-record.js';

const rec = (name: string, uuid: string, state: InstanceRecord['state']): InstanceRecord => ({
  name, uuid, type: 'container', image: 'tiny', cpus: 1, memory: 64 * 2 ** 20, disk: 0, sshKeys: [], state, accelerator: 'none',
  nics: [{ name: 'eth0', network: 'default', mac: '52:54:00:00:00:01', address: '10.1.0.5/24', tap: 'x' }], createdAt: '2026-12-01T00:00:00.000Z',
});

test('PATCH /instances/{name}: 200 with the updated Instance; 409 for a taken name or cpus while running; 400 for unknown fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-patch-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const log = silentLogger();
  const events = new EventBus();
  const refreshed: string[] = [];
  const ctx = {
    log, store, events, ops: new OperationManager(store, events, log), paths: statePaths(dir), config: { prefix: 'tp' },
    instances: { view: async (r: InstanceRecord) => toInstance(r, null) },
    network: { refreshReservations: async (n: string) => void refreshed.push(`dhcp ${n}`) },
    firewall: { apply: async () => void refreshed.push('firewall') },
  } as unknown as ApiContext;
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const app = await buildServer(ctx);
  const patch = (name: string, payload: unknown) => app.inject({ method: 'PATCH', url: `/api/v1/instances/${name}`, payload: payload as object, headers: { authorization: `Bearer ${token}` } });
  try {
    await store.put(keys.instance('default', 'web'), rec('web', '0d4b7c1e-0000-4000-8000-000000000001', 'running'));
    await store.put(keys.instance('default', 'db'), rec('db', '0d4b7c1e-0000-4000-8000-000000000002', 'stopped'));

    const ok = await patch('web', { name: 'www', description: 'front', autostart: 'never', labels: { tier: 'web' } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(
      (({ name, description, autostart, labels }) => ({ name, description, autostart, labels }))(ok.json()),
      { name: 'www', description: 'front', autostart: 'never', labels: { tier: 'web' } },
    );
    assert.deepEqual(refreshed, ['dhcp default', 'firewall']);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/v1/instances/web', payload: { description: 'x' }, headers: { authorization: `Bearer ${token}` } })).statusCode, 404);

    const taken = await patch('www', { name: 'db' });
    assert.equal(taken.statusCode, 409);
    assert.deepEqual(taken.json().error, { code: 'Conflict', message: 'instance db already exists' });
    const running = await patch('www', { cpus: 2 });
    assert.equal(running.statusCode, 409);
    assert.equal(running.json().error.message, 'instance www is running: cpus and memory can be changed only while it is stopped');
    const stopped = await patch('db', { cpus: 2, memory: '1GiB' });
    assert.equal(stopped.statusCode, 200, stopped.body);
    assert.equal(stopped.json().memory, 2 ** 30);

    assert.equal((await patch('db', { state: 'running' })).statusCode, 400, 'unknown fields are refused');
    assert.equal((await patch('db', { name: 'Bad_Name' })).statusCode, 400);
    assert.equal((await patch('db', { autostart: 'sometimes' })).statusCode, 400);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/v1/instances/db', payload: { cpus: 3 } })).statusCode, 401, 'no token: refused');
    assert.equal((await store.get<InstanceRecord>(keys.instance('default', 'db')))!.value.cpus, 2);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
