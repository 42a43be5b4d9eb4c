// Webhooks against a real HTTP receiver on 127.0.0.1 (loopback allowed by the test's config).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { EventBus } from '../events.js';
import { silentLogger } from '../../lib/log.js';
import { WebhookService, eventMatches } from './webhook-service.js';
import { isInternalAddress, parseWebhookUrl, resolveTarget } from './webhook-target.js';
import type { Event } from '../../shared/api-types.js';

test('internal addresses are refused: loopback, private, link-local (metadata), unspecified, mapped', () => {
  for (const ip of ['127.0.0.1', '127.9.9.9', '10.123.0.5', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '100.64.0.1', '224.0.0.1', 'not-an-ip']) {
    assert.equal(isInternalAddress(ip), true, ip);
  }
  for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) assert.equal(isInternalAddress(ip), false, ip);
});

test('webhook URLs: http(s) only, no credentials; internal targets refused unless allowed', async () => {
  assert.throws(() => parseWebhookUrl('ftp://example.com/x'), /http:\/\/ or https:\/\//);
  assert.throws(() => parseWebhookUrl('http://u:p@example.com/'), /user name or password/);
  assert.throws(() => parseWebhookUrl('not a url'), /not a URL/);
  await assert.rejects(resolveTarget(new URL('http://169.254.169.254/latest'), false), /internal address/);
  await assert.rejects(resolveTarget(new URL('http://[::1]:80/'), false), /internal address/);
  await assert.rejects(resolveTarget(new URL('http://localhost:80/'), false), /internal address/);
  assert.deepEqual(await resolveTarget(new URL('http://127.0.0.1:9/'), true), [{ address: '127.0.0.1', family: 4 }]);
});

test('event type filters: exact, prefix.* and *', () => {
  assert.equal(eventMatches(['*'], 'instance.created'), true);
  assert.equal(eventMatches(['instance.*'], 'instance.state'), true);
  assert.equal(eventMatches(['instance.*'], 'instancex.state'), false);
  assert.equal(eventMatches(['operation.done'], 'operation.done'), true);
  assert.equal(eventMatches(['operation.done'], 'operation.started'), false);
});

interface Got {
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(statuses: number[]) {
  const got: Got[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { got, url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

async function until(cond: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('deliveries: signed, only the project\'s matching events, retried with backoff, logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-webhooks-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  // The bus as the service sees it: events with a project are published by the scoped services.
  let deliver: (ev: Event) => void = () => {};
  const bus = { subscribe: (cb: (ev: Event) => void) => ((deliver = cb), () => {}) };
  const rx = await receiver([500, 503]); // two failures, then 200
  const svc = new WebhookService(store, bus, silentLogger(), { allowInternalTargets: true, retryDelaysMs: [20, 40], logLength: 3 });
  const strict = new WebhookService(store, new EventBus(), silentLogger());
  await svc.start();
  try {
    await assert.rejects(strict.create('alpha', { url: rx.url }), /internal address/);
    const hook = await svc.create('alpha', { url: rx.url, events: ['instance.*'] });
    assert.match(hook.secret!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await svc.list('alpha'))[0]!.secret, undefined, 'the secret is shown only at creation');
    assert.deepEqual(await svc.list('beta'), []);
    await assert.rejects(svc.get('beta', hook.id), /not found/, 'another project does not see it');

    const emit = (ev: Partial<Event>) => deliver({ type: 'instance.state', time: new Date().toISOString(), target: 'instance/web', data: { state: 'running' }, ...ev } as Event);
    emit({ project: 'beta' }); // another project's event
    emit({ project: 'alpha', type: 'network.created' }); // filtered out
    emit({}); // a platform event (no project)
    emit({ project: 'alpha' });
    await until(async () => (await svc.deliveries('alpha', hook.id))[0]?.status === 'delivered');
    await svc.settled();
    assert.equal(rx.got.length, 3, 'one event, three attempts (500, 503, 200)');
    const [d] = await svc.deliveries('alpha', hook.id);
    assert.deepEqual({ status: d!.status, attempts: d!.attempts, responseStatus: d!.responseStatus, event: d!.event }, { status: 'delivered', attempts: 3, responseStatus: 200, event: 'instance.state' });
    const last = rx.got[2]!;
    const sig = `sha256=${createHmac('sha256', hook.secret!).update(last.body).digest('hex')}`;
    assert.equal(last.headers['x-nimbo-signature'], sig);
    assert.ok(Math.abs(Number(last.headers['x-nimbo-timestamp']) - Date.now() / 1000) < 60);
    assert.equal(last.headers['x-nimbo-event'], 'instance.state');
    assert.equal(last.headers['content-type'], 'application/json');
    const body = JSON.parse(last.body) as { project: string; type: string; target: string; id: string };
    assert.deepEqual({ project: body.project, type: body.type, target: body.target, id: body.id }, { project: 'alpha', type: 'instance.state', target: 'instance/web', id: d!.id });

    // A receiver that never answers 2xx: the delivery fails after the last retry, with the error logged.
    rx.got.length = 0;
    const dead = await receiver(Array<number>(100).fill(500));
    const hook2 = await svc.create('alpha', { url: dead.url, events: ['*'] });
    for (let i = 0; i < 4; i++) emit({ project: 'alpha', type: 'operation.done', target: `op/${i}` });
    await until(async () => (await svc.deliveries('alpha', hook2.id)).filter((x) => x.status === 'failed').length >= 3);
    await svc.settled();
    const log2 = await svc.deliveries('alpha', hook2.id);
    assert.equal(log2.length, 3, 'the log keeps the newest logLength deliveries');
    assert.ok(log2.every((x) => x.attempts === 3 && x.lastError === 'HTTP 500'));
    await dead.close();
    await svc.delete('alpha', hook2.id);
    await assert.rejects(svc.deliveries('alpha', hook2.id), /not found/);
  } finally {
    svc.stop();
    await rx.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
