import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { NbdClient } from '../../../host/nbd-client.js';
import { startQemuNbd } from './backup-qemu-nbd.js';
import { openNbdBlockReader } from './nbd-block-reader.js';

// The userspace NBD client and the BlockReader against a real qemu-nbd serving a qcow2 with a
// persistent dirty bitmap: allocation, dirty extents at the bitmap's 64 KiB granularity, data.
const missing = ['qemu-nbd', 'qemu-img', 'qemu-io'].find((t) => !existsSync(`/usr/bin/${t}`));
const skip = process.env.CI === 'true' ? false : missing ? `needs /usr/bin/${missing} (qemu-utils)` : false;
const K = 1024;
const M = 1024 * K;

/** [offset, length] runs of the extents, adjacent ones joined. */
function spans(ext: { offset: number; length: number }[]): number[][] {
  const out: number[][] = [];
  for (const e of ext) {
    const last = out[out.length - 1];
    if (last && last[0]! + last[1]! === e.offset) last[1]! += e.length;
    else out.push([e.offset, e.length]);
  }
  return out;
}

test('real qemu-nbd: handshake, allocation + dirty-bitmap extents, pipelined reads, bytesRead', { skip, timeout: 60_000 }, async () => {
  assert.equal(missing, undefined);
  const exec = new RealExec();
  const dir = mkdtempSync(join(tmpdir(), `nbd-sys-${process.pid}-`));
  const img = join(dir, 'disk.qcow2');
  const io = (cmd: string) => exec.run(['qemu-io', '-f', 'qcow2', '-c', cmd, img]);
  let srv: Awaited<ReturnType<typeof startQemuNbd>> | undefined;
  try {
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', img, '8M']);
    await io('write -P 0x11 0 128k');
    await exec.run(['qemu-img', 'bitmap', '--add', img, 'b1']);
    await io('write -P 0x22 1M 64k');
    await io('write -P 0x33 3149824 4k'); // 3M + 4K: dirties the whole 64 KiB granule [3M, 3M+64K)
    await io('write -z 5M 64k'); // zeroed after the bitmap: dirty, and reads as zeros
    srv = await startQemuNbd(img, 'qcow2', join(dir, 'nbd.sock'), 'b1');

    const r = await openNbdBlockReader({ socket: srv.socket, exportName: '', bitmapContext: 'qemu:dirty-bitmap:b1' });
    assert.equal(r.size, 8 * M);
    const ext = await r.extents(0, 8 * M);
    assert.deepEqual(spans(ext.filter((e) => e.dirty)), [[1 * M, 64 * K], [3 * M, 64 * K], [5 * M, 64 * K]], JSON.stringify(ext));
    // qemu reports allocation finer than the cluster (the zeros around the 4 KiB write in a fresh cluster).
    assert.deepEqual(spans(ext.filter((e) => !e.zero)), [[0, 128 * K], [1 * M, 64 * K], [3 * M + 4 * K, 4 * K]], JSON.stringify(ext));
    let at = 0;
    for (const e of ext) {
      assert.equal(e.offset, at, 'no gaps');
      at += e.length;
    }
    assert.equal(at, 8 * M);
    // A sub-range is covered exactly, clipped at both ends.
    const sub = await r.extents(1 * M + 4 * K, 100 * K);
    assert.deepEqual(sub.map((e) => [e.offset, e.length, e.dirty]), [[1 * M + 4 * K, 60 * K, true], [1 * M + 64 * K, 40 * K, false]]);

    const [a, b, c] = await Promise.all([r.read(0, 128 * K), r.read(1 * M, 64 * K), r.read(3 * M, 8 * K)]);
    assert.ok(a.every((x) => x === 0x11) && b.every((x) => x === 0x22));
    assert.ok(c.subarray(4 * K).every((x) => x === 0x33) && c.subarray(0, 4 * K).every((x) => x === 0));
    assert.equal(r.bytesRead, 200 * K);
    await r.close();

    // A full read: no bitmap context, every extent dirty.
    const full = await openNbdBlockReader({ socket: srv.socket, exportName: '' });
    assert.ok((await full.extents(0, 8 * M)).every((e) => e.dirty));
    await full.close();

    await assert.rejects(NbdClient.connect(srv.socket, { exportName: '', metaContexts: ['qemu:dirty-bitmap:nope'] }), /no metadata context qemu:dirty-bitmap:nope/);
    await assert.rejects(NbdClient.connect(srv.socket, { exportName: 'other' }), /option GO refused \(unknown export\)/);
  } finally {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(existsSync(join(dir, 'nbd.sock')), false);
});

test('real qemu-nbd: dies with the process that started it (a daemon killed mid-backup leaves no server holding the image)', { skip, timeout: 60_000 }, async () => {
  const exec = new RealExec();
  const dir = mkdtempSync(join(tmpdir(), `nbd-sys-${process.pid}-`));
  const img = join(dir, 'disk.qcow2');
  const sock = join(dir, 'nbd.sock');
  try {
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', img, '1M']);
    const mod = new URL('./backup-qemu-nbd.js', import.meta.url).href;
    const script = `const m = await import(${JSON.stringify(mod)}); await m.startQemuNbd(${JSON.stringify(img)}, 'qcow2', ${JSON.stringify(sock)}); console.log('up'); process.kill(process.pid, 'SIGKILL');`;
    const r = await exec.run([process.execPath, '--input-type=module', '-e', script], { allowFailure: true });
    assert.match(r.stdout, /up/, r.stderr);
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      alive = (await exec.run(['pgrep', '-f', sock], { allowFailure: true })).code === 0;
      if (alive) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(alive, false, 'qemu-nbd is gone with its parent');
    await exec.run(['qemu-img', 'bitmap', '-f', 'qcow2', '--add', img, 'b1']); // the image is free again (write lock)
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
