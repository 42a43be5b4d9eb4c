import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialRelay, waitForSerial } from './serial-relay.js';
import { NimboError } from '../../../lib/errors.js';

/** A fake QEMU serial socket: records what the relay types, lets the test send guest output. */
function fakeSerial(path: string): Promise<{ server: Server; guest: Promise<Socket>; typed: () => string }> {
  let typed = '';
  let gotGuest!: (s: Socket) => void;
  const guest = new Promise<Socket>((r) => (gotGuest = r));
  const server = createServer((s) => {
    s.on('data', (d) => (typed += d.toString()));
    s.on('error', () => {});
    gotGuest(s);
  });
  return new Promise((r) => server.listen(path, () => r({ server, guest, typed: () => typed })));
}

const tmp = () => mkdtempSync(join(tmpdir(), 'qh1-serial-'));

test('reconnects until the socket appears, relays output, logs it, sends input', async () => {
  const dir = tmp();
  const relay = SerialRelay.forRunDir(dir, { reconnectMs: 20 }).start();
  try {
    assert.equal(relay.connected, false);
    assert.throws(() => relay.write('x'), (e: unknown) => e instanceof NimboError && e.code === 'Conflict');
    await new Promise((r) => setTimeout(r, 60)); // socket absent for a while
    const f = await fakeSerial(join(dir, 'serial.sock'));
    await relay.waitConnected(2000);
    const seen: string[] = [];
    const unsub = relay.onData((d) => seen.push(d.toString()));
    const marker = waitForSerial(relay, /HELLO-\w+/, 2000);
    const g = await f.guest;
    g.write('booting...\nHEL');
    g.write('LO-NIMBO\n');
    assert.equal(await marker, 'HELLO-NIMBO');
    relay.write('ping\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(f.typed(), 'ping\n');
    assert.equal(seen.join(''), 'booting...\nHELLO-NIMBO\n');
    unsub();
    g.write('more\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.join(''), 'booting...\nHELLO-NIMBO\n');
    assert.equal(readFileSync(join(dir, 'serial.log'), 'utf8'), 'booting...\nHELLO-NIMBO\nmore\n');
    assert.equal(relay.tail(5).toString(), 'more\n');
    // QEMU goes away and comes back (a restart): the relay attaches again.
    g.destroy();
    await new Promise<void>((r) => f.server.close(() => r()));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(relay.connected, false);
    const f2 = await fakeSerial(join(dir, 'serial.sock'));
    await relay.waitConnected(3000);
    (await f2.guest).write('again\n');
    assert.equal(await waitForSerial(relay, /again/, 2000), 'again');
    await relay.close();
    f2.server.close();
  } finally {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the log is bounded: rotated to .1, tail spans both parts', async () => {
  const dir = tmp();
  const f = await fakeSerial(join(dir, 'serial.sock'));
  const relay = SerialRelay.forRunDir(dir, { maxLogBytes: 100 }).start();
  try {
    await relay.waitConnected(2000);
    const g = await f.guest;
    const done = waitForSerial(relay, /END/, 2000);
    for (let i = 0; i < 30; i++) {
      g.write(`line-${String(i).padStart(2, '0')}\n`); // 8 bytes each, in separate chunks
      await new Promise((r) => setTimeout(r, 3));
    }
    g.write('END');
    await done;
    assert.ok(statSync(join(dir, 'serial.log')).size <= 100);
    assert.ok(statSync(join(dir, 'serial.log.1')).size <= 100);
    const tail = relay.tail(150).toString();
    assert.ok(tail.endsWith('line-29\nEND'), tail);
    assert.ok(tail.length > 100 && tail.length <= 150, String(tail.length)); // from both files
    assert.ok(relay.tail(1000).length <= 200);
  } finally {
    await relay.close();
    f.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('waitForSerial: timeout with the recent output; includeRecent scans the log', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'serial.log'), 'old boot: READY\n');
  const relay = SerialRelay.forRunDir(dir, { reconnectMs: 20 }).start();
  try {
    await assert.rejects(waitForSerial(relay, /READY/, 50), (e: unknown) => e instanceof NimboError && e.code === 'Timeout');
    assert.equal(await waitForSerial(relay, /READY/g, 50, { includeRecent: true }), 'READY');
  } finally {
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a symlinked log (planted by the unprivileged QEMU user) is refused', () => {
  const dir = tmp();
  try {
    symlinkSync(join(dir, 'victim'), join(dir, 'serial.log'));
    assert.throws(() => SerialRelay.forRunDir(dir).start());
    assert.equal(existsSync(join(dir, 'victim')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
