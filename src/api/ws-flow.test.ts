import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, Readable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { boundedSender, pipeToSocket, relayDuplex, WS_TOO_SLOW, type FlowSocket } from './ws-flow.js';

/** A socket whose peer reads only when told to: sent bytes wait in bufferedAmount until flush(). */
class SlowSocket implements FlowSocket {
  bufferedAmount = 0;
  peak = 0;
  closed?: { code?: number; reason?: string };
  terminated = false;
  private waiting: { n: number; cb?: (err?: Error) => void }[] = [];
  send(data: Buffer | string, cb?: (err?: Error) => void): void {
    const n = Buffer.byteLength(data);
    this.bufferedAmount += n;
    this.peak = Math.max(this.peak, this.bufferedAmount);
    this.waiting.push({ n, ...(cb ? { cb } : {}) });
  }
  /** The peer reads everything queued so far. */
  flush(): void {
    for (const w of this.waiting.splice(0)) {
      this.bufferedAmount -= w.n;
      w.cb?.();
    }
  }
  close(code?: number, reason?: string): void {
    this.closed = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
  }
  terminate(): void {
    this.terminated = true;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

test('a relay pauses its source while the socket holds more than the bound, and resumes as the client reads', async () => {
  const chunk = Buffer.alloc(64 * 1024);
  let made = 0;
  // An endless source (like a command printing without end): it only produces while not paused.
  const source = new Readable({
    read() {
      made += chunk.length;
      this.push(chunk);
    },
  });
  const sock = new SlowSocket();
  pipeToSocket(source, sock, 1024 * 1024, 256 * 1024);
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(source.isPaused(), 'the source is paused while the client reads nothing');
  assert.ok(sock.peak <= 1024 * 1024 + chunk.length, `queued ${sock.peak} bytes for a client that reads nothing`);
  const before = made;
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(made - before <= 16 * chunk.length * 2, `the paused source kept producing (${made - before} bytes)`);
  sock.flush();
  assert.ok(!source.isPaused(), 'reading resumes the source');
  for (let i = 0; i < 20; i++) await tick();
  assert.ok(sock.bufferedAmount > 0, 'data flows again');
  source.destroy();
});

test('a broadcast sender closes a client that falls behind with a clear code, and sends nothing more', () => {
  const sock = new SlowSocket();
  const send = boundedSender(sock, 'events', 10_000);
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (send('x'.repeat(1000))) accepted++;
  assert.equal(accepted, 10);
  assert.equal(sock.closed?.code, WS_TOO_SLOW);
  assert.match(sock.closed?.reason ?? '', /events: client too slow/);
  assert.ok(sock.peak <= 10_000);
  // A client that keeps up is never closed.
  const fast = new SlowSocket();
  const ok = boundedSender(fast, 'events', 10_000);
  for (let i = 0; i < 100; i++) {
    assert.equal(ok('x'.repeat(1000)), true);
    fast.flush();
  }
  assert.equal(fast.closed, undefined);
});

test("a two-way relay (VNC) stops reading the client's frames while the stream's buffer is full, and closes each end with the other", async () => {
  // The stream: QEMU's VNC socket, here one whose writes wait until the test takes them.
  const taken: Buffer[] = [];
  let release: (() => void) | undefined;
  const vnc = new Duplex({
    highWaterMark: 1024,
    read() {},
    write(chunk: Buffer, _enc, done) {
      taken.push(chunk);
      release = done;
    },
  });
  const ws = Object.assign(new EventEmitter(), new SlowSocket(), { paused: 0, resumed: 0 }) as EventEmitter & SlowSocket & { paused: number; resumed: number; pause(): void; resume(): void };
  ws.pause = () => void ws.paused++;
  ws.resume = () => void ws.resumed++;
  ws.send = SlowSocket.prototype.send.bind(ws);
  ws.close = SlowSocket.prototype.close.bind(ws);
  relayDuplex(ws, vnc, 'the VGA console');
  vnc.push(Buffer.from('RFB 003.008\n'));
  await tick();
  assert.equal(ws.bufferedAmount, 12, 'the server side reaches the client');
  ws.emit('message', Buffer.alloc(2000));
  ws.emit('message', Buffer.alloc(10));
  assert.equal(ws.paused, 1, 'past the stream\'s high-water mark the client is not read');
  while (release) {
    const r = release;
    release = undefined;
    r();
    await tick();
  }
  assert.equal(ws.resumed, 1, 'read again once the stream drained');
  assert.deepEqual(taken.map((b) => b.length), [2000, 10]);
  ws.emit('close');
  await tick();
  assert.ok(vnc.destroyed, "the client's close ends the VNC connection");
  assert.deepEqual(ws.closed, { code: 1000, reason: 'the VGA console closed' });
});
