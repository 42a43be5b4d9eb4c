// The webhook and usage routes on the real server, over the real services and a real store.
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
import { WebhookService } from '../core/webhooks/webhook-service.js';
import { UsageService } from '../core/metering/usage-service.js';
import { keys } from '../store/keys.js';
import type { MonthRow } from '../core/metering/meter-service.js';

test('webhook and usage routes: SSRF refusal creates nothing, the secret is shown once, usage as JSON and CSV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-trail-routes-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  const ctx = { log: silentLogger(), store, webhooks: new WebhookService(store, new EventBus(), silentLogger()), usage: new UsageService(store) } as unknown as ApiContext;
  const token = await ensureAdminToken(store, join(dir, 'admin.token'));
  const app = await buildServer(ctx);
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
  try {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://127.0.0.1:8443/api/v1/instances', 'http://[::1]/', 'http://10.123.0.7/', 'file:///etc/passwd', 'gopher://x']) {
      const res = await call('POST', '/api/v1/webhooks', { url });
      assert.equal(res.statusCode, 400, url);
      assert.match((res.json() as { error: { message: string } }).error.message, /internal address|http:\/\/ or https:\/\//);
    }
    assert.equal((await call('POST', '/api/v1/webhooks', { url: 'https://203.0.113.9/x', events: ['bad pattern!'] })).statusCode, 400);
    assert.deepEqual((await call('GET', '/api/v1/webhooks')).json(), { webhooks: [] }, 'refused creates leave nothing');
    const created = await call('POST', '/api/v1/webhooks', { url: 'https://203.0.113.9/hook', events: ['instance.*'] });
    assert.equal(created.statusCode, 201);
    const hook = created.json() as { id: string; secret?: string };
    assert.ok(hook.secret);
    const shown = (await call('GET', `/api/v1/webhooks/${hook.id}`)).json() as { secret?: string; url: string };
    assert.equal(shown.secret, undefined);
    assert.equal(shown.url, 'https://203.0.113.9/hook');
    assert.deepEqual((await call('GET', `/api/v1/webhooks/${hook.id}/deliveries`)).json(), { deliveries: [] });
    const second = (await call('POST', '/api/v1/webhooks', { url: 'https://203.0.113.9/other' })).json() as { id: string };
    const p1 = (await call('GET', '/api/v1/webhooks?limit=1')).json() as { webhooks: { id: string }[]; next: string };
    const p2 = (await call('GET', `/api/v1/webhooks?limit=1&after=${p1.next}`)).json() as { webhooks: { id: string }[]; next?: string };
    assert.deepEqual([p1.webhooks[0]!.id, p2.webhooks[0]!.id, p2.next], [hook.id, second.id, undefined]);
    assert.equal((await call('DELETE', `/api/v1/webhooks/${second.id}`)).statusCode, 204);
    assert.equal((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).statusCode, 204);
    assert.equal((await call('GET', `/api/v1/webhooks/${hook.id}`)).statusCode, 404);

    const row: MonthRow = { uuid: 'a1b2', project: 'default', name: 'web', month: '2026-11', hours: { '2026-11-03T10': { seconds: { small: 7200 }, diskGbSeconds: 72000, inBytes: 10, outBytes: 20 } } };
    await store.put(keys.usageRow('default', '2026-11', 'a1b2'), row);
    const json = await call('GET', '/api/v1/usage?month=2026-11');
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.json(), {
      project: 'default',
      month: '2026-11',
      instances: [{ instance: 'a1b2', name: 'web', instanceHours: { small: 2 }, diskGbHours: 20, transferInBytes: 10, transferOutBytes: 20 }],
      totals: { instanceHours: { small: 2 }, diskGbHours: 20, transferInBytes: 10, transferOutBytes: 20 },
    });
    await store.put(keys.usageRow('default', '2026-11', 'c3d4'), { ...row, uuid: 'c3d4', name: 'api' });
    const page1 = (await call('GET', '/api/v1/usage?month=2026-11&limit=1')).json() as { instances: { name: string }[]; totals: { diskGbHours: number }; next: string };
    assert.deepEqual([page1.instances.map((i) => i.name), page1.totals.diskGbHours], [['api'], 40]);
    const page2 = (await call('GET', `/api/v1/usage?month=2026-11&limit=1&after=${page1.next}`)).json() as { instances: { name: string }[]; next?: string };
    assert.deepEqual([page2.instances.map((i) => i.name), page2.next], [['web'], undefined]);
    const csv = await call('GET', '/api/v1/usage?month=2026-11&format=csv');
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.equal(csv.body.split('\r\n')[2], 'default,2026-11,a1b2,web,small,2,20,10,20');
    assert.equal((await call('GET', '/api/v1/usage?month=2026-13')).statusCode, 400);
    assert.equal((await call('GET', '/api/v1/usage?format=xml')).statusCode, 400);
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
