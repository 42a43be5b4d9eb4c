// The audit log, rate limits, webhooks and usage through a real nimbod and the real CLI, and the host
// behaviour metering relies on: a recreated NIC gets a new ifindex and counters that start again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { runArgv } from '../../src/host/exec.js';
import { readNetCounters } from '../../src/host/net-counters.js';
import { counterDelta } from '../../src/core/metering/meter-math.js';
import { TestDaemon, systemSkipReason } from './harness.js';

describe('audit, rate limits, webhooks and usage on a real daemon', { skip: systemSkipReason() }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start(['--rate-limit-caller', '40:0.5', '--audit-retention', '30']);
  });
  after(async () => {
    await d?.cleanup();
  });

  test('mutating calls are audited to 0600 day files, survive a restart, and are listed by the CLI', async () => {
    const refused = await d.cli('webhook', 'create', 'http://169.254.169.254/latest/meta-data/');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /internal address/);
    const hook = await d.cliJson<{ id: string; secret: string }>('webhook', 'create', 'https://203.0.113.10/hook', '--events', 'instance.*');
    assert.ok(hook.secret.length >= 40);
    assert.equal((await d.api('DELETE', '/webhooks/00000000-0000-0000-0000-000000000000', undefined, null)).status, 401);
    await d.stop();
    await d.launch();
    const page = await d.cliJson<{ entries: { user: string; method: string; route: string; status: number; error?: string; source: string }[] }>('audit', 'list');
    const rows = page.entries.map((e) => `${e.user} ${e.method} ${e.route} ${e.status} ${e.error ?? ''}`.trim());
    assert.deepEqual(rows.slice(0, 3), [
      'anonymous DELETE /api/v1/webhooks/:id 401 Unauthorized',
      'admin POST /api/v1/webhooks 201',
      'admin POST /api/v1/webhooks 400 InvalidArgument',
    ]);
    assert.ok(page.entries.every((e) => e.source === '127.0.0.1'));
    const dir = join(d.stateDir, 'audit');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of readdirSync(dir)) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600);
    const anon = await d.cliJson<{ entries: unknown[] }>('audit', 'list', '--user', 'anonymous');
    assert.equal(anon.entries.length, 1);
  });

  test('usage answers JSON and CSV for the project', async () => {
    const json = await d.cliJson<{ project: string; month: string; totals: unknown }>('usage');
    assert.equal(json.project, 'default');
    assert.equal(json.month, new Date().toISOString().slice(0, 7));
    const csv = await d.cli('usage', '--csv', '--month', '2026-01');
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^project,month,instance,name,plan,instance_hours,disk_gb_hours,transfer_in_bytes,transfer_out_bytes\r\n/);
    const bad = await d.cli('usage', '--month', '2026-1');
    assert.equal(bad.code, 2);
  });

  test('a caller over its limit gets 429 with RateLimit headers and Retry-After', async () => {
    const answers = [];
    for (let i = 0; i < 45; i++) answers.push(await d.api('GET', '/webhooks'));
    const limited = answers.find((a) => a.status === 429);
    assert.ok(limited, `no 429 in ${answers.map((a) => a.status).join(',')}`);
    assert.equal(limited.headers.get('ratelimit-limit'), '40');
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(answers[0]!.headers.get('ratelimit-limit'), '40', 'every answer carries the headers');
  });
});

describe('NIC counters as metering reads them', { skip: systemSkipReason() }, () => {
  const p = `t${randomBytes(2).toString('hex')}`;
  const ns = `${p}-ns`;
  const [host, peer] = [`${p}h`, `${p}p`];
  const ip = (...a: string[]) => runArgv(['ip', ...a]);
  const up = async () => {
    await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns);
    await ip('addr', 'add', '169.254.77.1/30', 'dev', host);
    await ip('link', 'set', host, 'up');
    await ip('-n', ns, 'addr', 'add', '169.254.77.2/30', 'dev', peer);
    await ip('-n', ns, 'link', 'set', peer, 'up');
  };
  before(async () => {
    await ip('netns', 'add', ns);
  });
  after(async () => {
    await runArgv(['ip', 'link', 'del', host], { allowFailure: true });
    await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
  });

  test('traffic grows the host-side counters; a recreated device has a new ifindex and restarted counters', async () => {
    await up();
    const before0 = (await readNetCounters(host))!;
    // Five 1000-byte datagrams to the peer (its ARP answers and port-unreachable errors come back).
    const sock = createSocket('udp4');
    for (let i = 0; i < 5; i++) await new Promise<void>((r, j) => sock.send(Buffer.alloc(1000), 9, '169.254.77.2', (e) => (e ? j(e) : r())));
    sock.close();
    await new Promise((r) => setTimeout(r, 500));
    const after0 = (await readNetCounters(host))!;
    assert.ok(after0.tx - before0.tx >= 5 * 1000, `tx grew by ${after0.tx - before0.tx}`);
    assert.ok(after0.rx > before0.rx, 'the answers were counted as received');
    await ip('link', 'del', host);
    assert.equal(await readNetCounters(host), undefined);
    await up();
    const again = (await readNetCounters(host))!;
    assert.notEqual(again.ifindex, after0.ifindex);
    assert.ok(again.tx < after0.tx);
    // The accounting counts the new device from zero, never negative.
    assert.equal(counterDelta({ ifindex: after0.ifindex, v: after0.tx }, { ifindex: again.ifindex, v: again.tx }), again.tx);
  });
});
