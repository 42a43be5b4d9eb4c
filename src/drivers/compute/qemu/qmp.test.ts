import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpError, type QmpEvent } from './qmp.js';
import { NimboError } from '../../../lib/errors.js';

type Reply = (sock: Socket, msg: { execute: string; id?: string; arguments?: Record<string, unknown> }) => void;

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'fake' }, capabilities: ['oob'] } };

/** A fake QMP server on a temp unix socket; `reply` decides the answer to each command. */
async function fakeQmp(reply: Reply, opts: { greet?: boolean } = {}): Promise<{ path: string; server: Server; seen: string[]; done: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'qh1-qmp-'));
  const path = join(dir, 'qmp.sock');
  const seen: string[] = [];
  const socks = new Set<Socket>();
  const server = createServer((sock) => {
    socks.add(sock);
    if (opts.greet !== false) sock.write(JSON.stringify(GREETING) + '\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        seen.push(msg.execute);
        if (msg.execute === 'qmp_capabilities') sock.write(JSON.stringify({ return: {}, id: msg.id }) + '\r\n');
        else reply(sock, msg);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  const done = () => {
    for (const s of socks) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { path, server, seen, done };
}

const send = (sock: Socket, obj: unknown) => sock.write(JSON.stringify(obj) + '\r\n');

test('handshake, command result, error reply with class/desc', async () => {
  const f = await fakeQmp((sock, msg) => {
    if (msg.execute === 'query-status') send(sock, { return: { status: 'running', running: true }, id: msg.id });
    else send(sock, { error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` }, id: msg.id });
  });
  const c = await QmpClient.connect(f.path);
  try {
    assert.equal(c.greeting?.QMP.version.qemu.major, 7);
    assert.deepEqual(await c.execute('query-status'), { status: 'running', running: true });
    await assert.rejects(c.execute('bogus'), (e: unknown) => {
      assert.ok(e instanceof QmpError);
      assert.equal(e.qmpClass, 'CommandNotFound');
      assert.equal(e.code, 'InvalidArgument');
      assert.match(e.message, /bogus has not been found/);
      return true;
    });
    assert.deepEqual(f.seen, ['qmp_capabilities', 'query-status', 'bogus']);
  } finally {
    c.close();
    f.done();
  }
});

test('arguments are sent; replies out of order are matched by id; events before a reply', async () => {
  const held: { sock: Socket; id?: string }[] = [];
  const f = await fakeQmp((sock, msg) => {
    if (msg.execute === 'slow') return void held.push({ sock, id: msg.id });
    if (msg.execute === 'echo') {
      send(sock, { event: 'STOP', timestamp: { seconds: 1, microseconds: 2 } });
      send(sock, { return: msg.arguments, id: msg.id });
      // now answer the held one, preceded by another event in the same write
      const h = held.shift()!;
      h.sock.write(JSON.stringify({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 3 } }) + '\r\n' + JSON.stringify({ return: 'slow-done', id: h.id }) + '\r\n');
    }
  });
  const c = await QmpClient.connect(f.path);
  const events: QmpEvent[] = [];
  c.on('event', (e) => events.push(e));
  try {
    const slow = c.execute('slow');
    await new Promise((r) => setTimeout(r, 20));
    const fast = await c.execute('echo', { size: 42, node: 'd-root' });
    assert.deepEqual(fast, { size: 42, node: 'd-root' });
    assert.equal(await slow, 'slow-done');
    assert.deepEqual(events.map((e) => e.event), ['STOP', 'RESUME']);
  } finally {
    c.close();
    f.done();
  }
});

test('async event delivered to listeners with data; SHUTDOWN then close rejects pending', async () => {
  const f = await fakeQmp((sock, msg) => {
    if (msg.execute === 'system_powerdown') {
      send(sock, { return: {}, id: msg.id });
      send(sock, { event: 'POWERDOWN', timestamp: { seconds: 5, microseconds: 0 } });
      send(sock, { event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' }, timestamp: { seconds: 6, microseconds: 0 } });
    }
    if (msg.execute === 'hang') setTimeout(() => sock.destroy(), 20);
  });
  const c = await QmpClient.connect(f.path);
  try {
    const got = new Promise<QmpEvent>((r) => c.on('event', (e) => e.event === 'SHUTDOWN' && r(e)));
    await c.execute('system_powerdown');
    const ev = await got;
    assert.deepEqual(ev.data, { guest: true, reason: 'guest-shutdown' });
    await assert.rejects(c.execute('hang'), (e: unknown) => e instanceof NimboError && /connection closed/.test(e.message));
    await c.waitClosed();
    assert.equal(c.closed, true);
    await assert.rejects(c.execute('query-status'), /connection closed/);
  } finally {
    c.close();
    f.done();
  }
});

test('command timeout; late reply is ignored', async () => {
  const f = await fakeQmp((sock, msg) => {
    if (msg.execute === 'late') setTimeout(() => send(sock, { return: 'too late', id: msg.id }), 80);
    if (msg.execute === 'ping') send(sock, { return: 'pong', id: msg.id });
  });
  const c = await QmpClient.connect(f.path);
  try {
    await assert.rejects(c.execute('late', undefined, { timeoutMs: 30 }), (e: unknown) => e instanceof NimboError && e.code === 'Timeout');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await c.execute('ping'), 'pong');
  } finally {
    c.close();
    f.done();
  }
});

test('no greeting (socket held by another client) times out', async () => {
  const f = await fakeQmp(() => {}, { greet: false });
  try {
    await assert.rejects(QmpClient.connect(f.path, { timeoutMs: 100 }), (e: unknown) => e instanceof NimboError && e.code === 'Timeout');
  } finally {
    f.done();
  }
});

test('missing socket: NotFound, or retried until it appears', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qh1-qmp-'));
  try {
    await assert.rejects(QmpClient.connect(join(dir, 'none.sock'), { timeoutMs: 100 }), (e: unknown) => e instanceof NimboError && e.code === 'NotFound');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = await fakeQmp(() => {});
  const path = f.path;
  await new Promise<void>((r) => f.server.close(() => r()));
  const later = setTimeout(() => f.server.listen(path), 150);
  try {
    const c = await QmpClient.connect(path, { retry: true, timeoutMs: 2000 });
    assert.equal(c.greeting?.QMP.version.qemu.minor, 2);
    c.close();
  } finally {
    clearTimeout(later);
    f.done();
  }
});
