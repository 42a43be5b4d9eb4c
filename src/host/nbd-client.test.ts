import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NbdClient } from './nbd-client.js';

// A small fake NBD server that speaks the server side of the framing by hand, so the client's
// parsing is checked against bytes written from the spec, not against itself.
const SIZE = 1 << 20;
const DATA = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) DATA[i] = (i * 7 + 3) & 0xff;

interface Fake {
  path: string;
  server: Server;
  seen: number[];
  close(): void;
}

const be = (bits: 16 | 32 | 64, v: number | bigint): Buffer => {
  const b = Buffer.alloc(bits / 8);
  if (bits === 16) b.writeUInt16BE(Number(v));
  else if (bits === 32) b.writeUInt32BE(Number(v));
  else b.writeBigUInt64BE(BigInt(v));
  return b;
};

function optReply(opt: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([be(64, 0x3e889045565a9n), be(32, opt), be(32, type), be(32, data.length), data]);
}

function chunk(flags: number, type: number, cookie: bigint, body: Buffer): Buffer {
  return Buffer.concat([be(32, 0x668e33ef), be(16, flags), be(16, type), be(64, cookie), be(32, body.length), body]);
}

/** Serves export "disk": [0, 64K) data, the rest a hole; reads at >= 512K fail with EIO; odd cookies are answered late. */
function fakeServer(opts: { garbage?: boolean } = {}): Promise<Fake> {
  const dir = mkdtempSync(join(tmpdir(), `nbd-fake-${process.pid}-`));
  const path = join(dir, 'nbd.sock');
  const seen: number[] = [];
  const server = createServer((s: Socket) => {
    if (opts.garbage) {
      s.end('HTTP/1.0 400 Bad Request\r\n\r\n');
      return;
    }
    let buf = Buffer.alloc(0);
    let phase: 'flags' | 'opts' | 'tx' = 'flags';
    s.write(Buffer.concat([Buffer.from('NBDMAGIC'), Buffer.from('IHAVEOPT'), be(16, 3)]));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (phase === 'flags') {
          if (buf.length < 4) return;
          assert.equal(buf.readUInt32BE(0), 3, 'client flags: fixed newstyle + no zeroes');
          buf = buf.subarray(4);
          phase = 'opts';
        } else if (phase === 'opts') {
          if (buf.length < 16) return;
          const len = buf.readUInt32BE(12);
          if (buf.length < 16 + len) return;
          const opt = buf.readUInt32BE(8);
          const data = buf.subarray(16, 16 + len);
          buf = buf.subarray(16 + len);
          seen.push(opt);
          if (opt === 8) s.write(optReply(opt, 1));
          else if (opt === 10) {
            const nlen = data.readUInt32BE(0);
            const n = data.readUInt32BE(4 + nlen);
            let at = 8 + nlen;
            for (let i = 0; i < n; i++) {
              const ql = data.readUInt32BE(at);
              const q = data.subarray(at + 4, at + 4 + ql).toString();
              at += 4 + ql;
              if (q === 'base:allocation') s.write(optReply(opt, 4, Buffer.concat([be(32, 7), Buffer.from(q)])));
            }
            s.write(optReply(opt, 1));
          } else if (opt === 7) {
            const name = data.subarray(4, 4 + data.readUInt32BE(0)).toString();
            if (name !== 'disk') {
              s.write(optReply(opt, 0x80000006, Buffer.from(`no export ${name}`)));
              continue;
            }
            s.write(optReply(opt, 3, Buffer.concat([be(16, 0), be(64, SIZE), be(16, 1 | 2)])));
            s.write(optReply(opt, 3, Buffer.concat([be(16, 3), be(32, 1), be(32, 4096), be(32, 256 * 1024)])));
            s.write(optReply(opt, 1));
            phase = 'tx';
          } else s.write(optReply(opt, 0x80000001));
        } else {
          if (buf.length < 28) return;
          assert.equal(buf.readUInt32BE(0), 0x25609513);
          const type = buf.readUInt16BE(6);
          const cookie = buf.readBigUInt64BE(8);
          const off = Number(buf.readBigUInt64BE(16));
          const len = buf.readUInt32BE(24);
          buf = buf.subarray(28);
          seen.push(100 + type);
          if (type === 2) {
            s.end();
            return;
          }
          const out: Buffer[] = [];
          if (type === 0 && off >= 512 * 1024) {
            const msg = Buffer.from('boom');
            out.push(chunk(1, 0x8001, cookie, Buffer.concat([be(32, 5), be(16, msg.length), msg])));
          } else if (type === 0) {
            // Data chunks for the allocated part, one hole chunk for the rest, then a NONE chunk with DONE.
            const dataEnd = Math.min(off + len, 65536);
            if (dataEnd > off) out.push(chunk(0, 1, cookie, Buffer.concat([be(64, off), DATA.subarray(off, dataEnd)])));
            if (off + len > Math.max(off, 65536)) out.push(chunk(0, 2, cookie, Buffer.concat([be(64, Math.max(off, 65536)), be(32, off + len - Math.max(off, 65536))])));
            out.push(chunk(1, 0, cookie, Buffer.alloc(0)));
          } else if (type === 7) {
            // Describes past the request's end on purpose: the client must clip.
            const ext = off < 65536 ? [be(32, 65536 - off), be(32, 0), be(32, SIZE - 65536), be(32, 3)] : [be(32, SIZE - off), be(32, 3)];
            out.push(chunk(1, 5, cookie, Buffer.concat([be(32, 7), ...ext])));
          }
          const send = () => s.write(Buffer.concat(out));
          if (cookie % 2n === 1n) setTimeout(send, 30);
          else send();
        }
      }
    });
    s.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server, seen, close: () => { server.close(); rmSync(dir, { recursive: true, force: true }); } })));
}

test('handshake, pipelined reads of data and holes answered out of order, clipped block status, disconnect', async () => {
  const f = await fakeServer();
  try {
    const c = await NbdClient.connect(f.path, { exportName: 'disk', metaContexts: ['base:allocation'] });
    assert.equal(c.size, SIZE);
    assert.equal(c.maxPayload, 256 * 1024);
    assert.deepEqual([...c.contexts], [['base:allocation', 7]]);
    // Cookie 1 is answered late, cookie 2 at once: each promise still gets its own bytes.
    const [a, b] = await Promise.all([c.read(60_000, 10_000), c.read(0, 4096)]);
    assert.deepEqual(a.subarray(0, 5536), DATA.subarray(60_000, 65536));
    assert.deepEqual(a.subarray(5536), Buffer.alloc(10_000 - 5536), 'the hole reads as zeros');
    assert.deepEqual(b, DATA.subarray(0, 4096));
    // Larger than the server's max payload: split into several requests.
    const big = await c.read(0, 300 * 1024);
    assert.deepEqual(big.subarray(0, 65536), DATA.subarray(0, 65536));
    assert.equal(big.length, 300 * 1024);
    assert.deepEqual(await c.blockStatus(4096, 100_000, 'base:allocation'), [{ length: 61440, flags: 0 }, { length: 100_000 - 61440, flags: 3 }]);
    await assert.rejects(c.blockStatus(0, 10, 'qemu:dirty-bitmap:x'), /metadata context qemu:dirty-bitmap:x was not negotiated/);
    await assert.rejects(c.read(600_000, 10), /read \[600000, \+10\) failed: EIO \(boom\)/);
    assert.deepEqual(await c.read(0, 16), DATA.subarray(0, 16), 'an error reply leaves the connection usable');
    await assert.rejects(c.read(SIZE - 8, 16), /outside the export/);
    await c.close();
    await assert.rejects(c.read(0, 16), /client closed/);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.seen.slice(0, 3), [8, 10, 7], 'structured replies, meta context, go');
    assert.equal(f.seen.at(-1), 102, 'NBD_CMD_DISC sent');
  } finally {
    f.close();
  }
});

test('clear errors: unknown export, context not granted, not an NBD server, no server', async () => {
  const f = await fakeServer();
  const g = await fakeServer({ garbage: true });
  try {
    await assert.rejects(NbdClient.connect(f.path, { exportName: 'nope' }), /option GO refused \(unknown export\): no export nope/);
    await assert.rejects(NbdClient.connect(f.path, { exportName: 'disk', metaContexts: ['base:allocation', 'qemu:dirty-bitmap:b1'] }), /has no metadata context qemu:dirty-bitmap:b1/);
    await assert.rejects(NbdClient.connect(g.path, { exportName: 'disk' }), /not an NBD server/);
    await assert.rejects(NbdClient.connect(join(tmpdir(), `no-such-${process.pid}.sock`), { exportName: 'disk' }), /ENOENT/);
  } finally {
    f.close();
    g.close();
  }
});
