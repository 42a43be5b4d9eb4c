import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { boundedSender, pipeToSocket, WS_TOO_SLOW, type FlowSocket } from './ws-flow.js';

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
