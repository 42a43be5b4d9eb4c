import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { silentLogger } from '../../../lib/log.js';
import type { BlockBackupRequest, BlockBackupSession, BlockReader } from '../../../shared/backup-source.js';
import type { InstanceSpec } from '../instance-driver.js';
import { imageBitmaps } from './backup-stopped.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { renderCpio } from './initramfs-fixture.js';
import { QemuInstanceDriver } from './instance-driver.js';
import { waitForSerial, type SerialRelay } from './serial-relay.js';

// Block backups of one tiny TCG VM (busybox initramfs, a qcow2 root and a qcow2 volume): fleecing of
// the running VM read at one instant, exact dirty extents, bitmaps that survive stop/start and a new
// driver (daemon restart), the stopped VM's images, a failed backup giving its changes back, and a
// killed QEMU falling back to a full read. Writes go through the disks' devices (HMP qemu-io -d), the
// path a guest write takes. Needs root, qemu-system-x86, qemu-utils, linux-image-amd64, busybox-static, genisoimage.
const QEMU = '/usr/bin/qemu-system-x86_64';
const kernel = existsSync('/boot') ? readdirSync('/boot').find((f) => /^vmlinuz-/.test(f)) : undefined;
const missing =
  process.getuid?.() !== 0 ? 'needs root'
    : !existsSync(QEMU) ? `needs ${QEMU} (qemu-system-x86)`
      : !existsSync('/usr/bin/qemu-nbd') ? 'needs qemu-nbd (qemu-utils)'
        : !kernel ? 'needs /boot/vmlinuz-* (linux-image-amd64)'
          : !existsSync('/bin/busybox') ? 'needs /bin/busybox (busybox-static)'
            : !existsSync('/usr/bin/genisoimage') ? 'needs genisoimage'
              : undefined;
const skip = process.env.CI === 'true' ? false : missing ?? false;
const VM_ID = 2_000_000_000 + 65_535 - 300 - (process.pid % 100);
const K = 1024;
const M = 1024 * K;

const MODULES = ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_blk'];

/** A busybox initramfs that loads virtio-blk and writes to /dev/vda on command: `w PATTERN OFFSET_4K COUNT_4K TAG` -> `W:rc:TAG`. */
function writeGuestInitramfs(path: string, kver: string, marker: string): void {
  const init = [
    '#!/bin/sh',
    'export PATH=/bin',
    'mount -t devtmpfs dev /dev',
    ...MODULES.map((m) => `insmod /lib/${m}.ko`),
    `echo ${marker}`,
    'while read c p o n t; do',
    '  if [ "$c" = w ]; then dd if=/dev/zero bs=4096 count=$n 2>/dev/null | tr "\\000" "\\\\$p" | dd of=/dev/vda bs=4096 seek=$o conv=notrunc,fsync 2>/dev/null; echo "W:$?:$t"; fi',
    'done',
    'while true; do sleep 3600; done',
    '',
  ].join('\n');
  const find = (m: string) => {
    const base = `/lib/modules/${kver}/kernel/drivers`;
    const p = [`${base}/virtio/${m}.ko`, `${base}/block/${m}.ko`].find((f) => existsSync(f));
    assert.ok(p, `module ${m} of ${kver}`);
    return p!;
  };
  writeFileSync(path, renderCpio([
    { kind: 'dir', name: 'bin' },
    { kind: 'dir', name: 'dev' },
    { kind: 'dir', name: 'lib' },
    { kind: 'chardev', name: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...['sh', 'dd', 'tr', 'mount', 'insmod', 'sleep'].map((n) => ({ kind: 'symlink' as const, name: `bin/${n}`, target: 'busybox' })),
    ...MODULES.map((m) => ({ kind: 'file' as const, name: `lib/${m}.ko`, data: readFileSync(find(m)) })),
    { kind: 'file', name: 'init', data: init, mode: 0o755 },
  ]));
}

/** [offset, length] runs of the dirty extents, adjacent ones joined. */
async function dirtySpans(r: BlockReader): Promise<number[][]> {
  const out: number[][] = [];
  for (const e of await r.extents(0, r.size)) {
    if (!e.dirty) continue;
    const last = out[out.length - 1];
    if (last && last[0]! + last[1]! === e.offset) last[1]! += e.length;
    else out.push([e.offset, e.length]);
  }
  return out;
}

test('real QEMU: block backups by fleecing and from images, incrementals across stop/start and a new driver, fallbacks', { skip, timeout: 600_000 }, async () => {
  assert.equal(missing, undefined, missing);
  const exec = new RealExec();
  const dir = mkdtempSync(`/tmp/bk-sys-${process.pid}-`);
  chmodSync(dir, 0o755);
  const uuid = `00000000-0000-4000-8001-${String(process.pid).padStart(12, '0')}`;
  const network = { createTap: async () => assert.fail('no taps'), deleteTap: async () => assert.fail('no taps'), tapExists: async () => false, applyLimits: async () => assert.fail('no taps') };
  const mkDriver = () => new QemuInstanceDriver({ exec, log: silentLogger(), network }, { qemuUser: 'nimbo-qemu', accelerator: 'tcg', qemu: { exec, binary: QEMU } });
  let driver = mkDriver();
  const limits = { iopsRead: 0, iopsWrite: 0, bytesRead: 0, bytesWrite: 0 };
  const spec: InstanceSpec = {
    uuid,
    name: 'bk-sys',
    hostIds: { runDir: join(dir, 'run', uuid), instanceDir: join(dir, 'instances', uuid) },
    driverConfig: { qemuId: VM_ID },
    cpus: 1,
    memoryBytes: 128 * 2 ** 20,
    boot: { kind: 'direct', kernel: join('/boot', kernel ?? 'none'), initrd: join(dir, 'initrd.cpio'), cmdline: 'console=ttyS0 panic=-1' },
    root: { pool: 'default', volume: `root-${uuid}`, path: join(dir, 'root.qcow2'), format: 'qcow2' },
    nics: [],
    volumes: [{ pool: 'p1', volume: 'data1', path: join(dir, 'data1.qcow2'), format: 'qcow2', limits }],
    networks: new Map(),
  };
  const VOL = 'p1/data1';
  const logs: string[] = [];
  let n = 0;
  const req = (base: string | undefined): BlockBackupRequest => ({ baseBitmaps: base ? { root: base, [VOL]: base } : {}, newBitmap: `nimbo-t-b${++n}`, bitmapPrefix: 'nimbo-t-' });
  const open = (r: BlockBackupRequest) => driver.openBlockBackup(spec, r, (l) => logs.push(l));
  const disk = (s: BlockBackupSession, id: string) => s.disks.find((d) => d.id === id)!;
  let relay: SerialRelay | undefined;
  let tag = 0;
  // The guest writes to its root disk (the path every guest write takes, through the copy-before-write filter).
  const write = async (pattern: number, off: number, len: number) => {
    const t = `t${++tag}`;
    relay!.write(`w ${pattern.toString(8)} ${off / 4096} ${len / 4096} ${t}\n`);
    await waitForSerial(relay!, new RegExp(`W:0:${t}\\b`), 60_000);
  };
  let boots = 0;
  const boot = async (): Promise<void> => {
    // A marker of its own per boot: the console keeps the earlier boots' output.
    const marker = `HELLO-BK-${++boots}`;
    writeGuestInitramfs(join(dir, 'initrd.cpio'), kernel!.replace(/^vmlinuz-/, ''), marker);
    await driver.start(spec);
    relay = (await driver.console(spec) as unknown as { relay: SerialRelay }).relay;
    await waitForSerial(relay, new RegExp(`${marker}\\b`), 120_000, { includeRecent: true });
  };
  const leftovers = async () => {
    const qmp = await driver.qemu.qmp(spec.hostIds.runDir);
    const nodes = (await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((x) => x['node-name']);
    assert.deepEqual(nodes.filter((x) => x.startsWith('fl-')), [], 'no fleece node left');
    assert.deepEqual(await qmp.execute('query-block-exports'), []);
    assert.deepEqual(await qmp.execute('query-block-jobs'), []);
    assert.equal(existsSync(join(spec.hostIds.instanceDir, 'backup')), false, 'no backup dir left');
  };
  const stop = async () => {
    await driver.stop(spec, { timeoutMs: 1000, force: false }); // the initramfs ignores ACPI: QEMU quits cleanly, storing its bitmaps
    assert.equal((await driver.status(spec)).state, 'stopped');
  };
  try {
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', spec.root.path, '32M']);
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', spec.volumes[0]!.path, '16M']);
    await exec.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x11 0 1M', '-c', 'write -P 0x12 8M 256k', spec.root.path]);
    await driver.prepare(spec, { seed: { 'meta-data': `instance-id: ${uuid}\n` }, root: 'new' });
    await boot();

    // 1. Full backup of the running VM.
    const r1 = req(undefined);
    let s = await open(r1);
    assert.equal(s.consistency, 'crash-consistent');
    assert.deepEqual(s.disks.map((d) => [d.id, d.mode, d.reason, d.nextBitmap]), [['root', 'full', undefined, r1.newBitmap], [VOL, 'full', undefined, r1.newBitmap]]);
    const root = disk(s, 'root').reader;
    assert.equal(root.size, 32 * M);
    const data = (await root.extents(0, root.size)).filter((e) => !e.zero).map((e) => [e.offset, e.length]);
    assert.deepEqual(data, [[0, 1 * M], [8 * M, 256 * K]], 'the data extents are the allocated data');
    assert.ok((await root.read(8 * M, 64 * K)).every((b) => b === 0x12));
    await s.finish(true);
    await leftovers();

    // 2. Incremental: exactly the written regions (64 KiB granules); a write after the open stays out of the export.
    await write(0x5a, 2 * M + 4 * K, 4 * K);
    await write(0x5a, 5 * M, 128 * K);
    const r2 = req(r1.newBitmap);
    s = await open(r2);
    assert.deepEqual(s.disks.map((d) => d.mode), ['incremental', 'incremental']);
    await write(0x77, 2 * M + 4 * K, 4 * K); // the guest keeps writing: after the instant
    await write(0x78, 10 * M, 64 * K);
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[2 * M, 64 * K], [5 * M, 128 * K]]);
    assert.deepEqual(await dirtySpans(disk(s, VOL).reader), [], 'nothing written to the volume');
    const g = await disk(s, 'root').reader.read(2 * M, 64 * K);
    assert.ok(g.subarray(4 * K, 8 * K).every((b) => b === 0x5a), `the export shows the disk at the instant of the open: ${[...new Set(g.subarray(4 * K, 8 * K))]}`);
    assert.ok(g.subarray(0, 4 * K).every((b) => b === 0));
    assert.ok((await disk(s, 'root').reader.read(10 * M, 64 * K)).every((b) => b === 0), 'a later write is not in the export');
    assert.equal(disk(s, 'root').reader.bytesRead, 128 * K);
    await s.finish(true);
    await leftovers();
    const qmp = await driver.qemu.qmp(spec.hostIds.runDir);
    const bitmaps = (await qmp.execute<{ 'node-name': string; 'dirty-bitmaps'?: { name: string; persistent: boolean }[] }[]>('query-named-block-nodes', { flat: true }))
      .find((x) => x['node-name'] === 'd-root')?.['dirty-bitmaps'];
    assert.deepEqual(bitmaps?.map((b) => [b.name, b.persistent]), [[r2.newBitmap, true]], 'the old base is gone, the new one is persistent');

    // 3. A graceful stop and a start: the bitmap persisted; only the writes since backup 2's instant are dirty.
    await stop();
    assert.deepEqual((await imageBitmaps(exec, spec.root.path)).map((b) => [b.name, b.inconsistent]), [[r2.newBitmap, false]]);
    await boot();
    await write(0x33, 12 * M, 64 * K);
    const r3 = req(r2.newBitmap);
    s = await open(r3);
    assert.equal(disk(s, 'root').mode, 'incremental');
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[2 * M, 64 * K], [10 * M, 64 * K], [12 * M, 64 * K]]);
    assert.deepEqual(await dirtySpans(disk(s, VOL).reader), []);
    await s.finish(true);

    // 4. The stopped VM: its images, incremental; a failed backup leaves the base as it was.
    await write(0x44, 14 * M, 64 * K);
    await stop();
    const r4 = req(r3.newBitmap);
    s = await open(r4);
    assert.equal(s.consistency, 'stopped');
    assert.deepEqual(s.disks.map((d) => d.mode), ['incremental', 'incremental']);
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[14 * M, 64 * K]]);
    assert.ok((await disk(s, 'root').reader.read(14 * M, 64 * K)).every((b) => b === 0x44));
    await s.finish(false);
    assert.deepEqual((await imageBitmaps(exec, spec.root.path)).map((b) => b.name), [r3.newBitmap], 'a failed backup removes its new bitmap only');
    const r5 = req(r3.newBitmap);
    s = await open(r5);
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[14 * M, 64 * K]]);
    await s.finish(true);
    assert.deepEqual((await imageBitmaps(exec, spec.root.path)).map((b) => b.name), [r5.newBitmap]);
    assert.equal(readdirSync('/tmp').some((f) => f.startsWith('nimbo-backup-')), false, 'no qemu-nbd socket dir left');

    // 5. A daemon restart: a new driver adopts the running VM and still does an incremental; a failed one gives its changes back.
    await boot();
    driver.close();
    driver = mkDriver();
    await driver.adopt(spec);
    relay = (await driver.console(spec) as unknown as { relay: SerialRelay }).relay;
    await write(0x55, 16 * M, 64 * K);
    const r6 = req(r5.newBitmap);
    s = await open(r6);
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[16 * M, 64 * K]]);
    await s.finish(false);
    await leftovers();
    await write(0x56, 18 * M, 64 * K);
    const r7 = req(r5.newBitmap);
    s = await open(r7);
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[16 * M, 64 * K], [18 * M, 64 * K]], 'the failed backup\'s changes and the ones since are all there');
    await s.finish(true);

    // 5b. The daemon dies mid-backup (the session is never finished): a new driver clears the leftovers, and
    // the base that backup froze gets the changes since merged back from the bitmap that backup started.
    await write(0x57, 20 * M, 64 * K);
    await open(req(r7.newBitmap)); // abandoned
    driver.close();
    driver = mkDriver();
    await driver.adopt(spec);
    relay = (await driver.console(spec) as unknown as { relay: SerialRelay }).relay;
    await write(0x58, 22 * M, 64 * K);
    const rb = req(r7.newBitmap);
    logs.length = 0;
    s = await open(rb);
    assert.equal(disk(s, 'root').mode, 'incremental');
    assert.ok(logs.some((l) => /left disabled by an interrupted backup; merging/.test(l)), logs.join('\n'));
    assert.deepEqual(await dirtySpans(disk(s, 'root').reader), [[20 * M, 64 * K], [22 * M, 64 * K]]);
    await s.finish(true);
    await leftovers();

    // 6. QEMU killed: a bitmap made in that run was never saved (missing), one loaded from the image was
    // not saved cleanly (inconsistent); either way the next backup reads everything, says why, and drops it.
    const kill = async () => {
      process.kill((await driver.status(spec)).pid!, 'SIGKILL');
      for (let i = 0; i < 100 && (await driver.status(spec)).state !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 100));
      await boot();
    };
    await kill();
    const r8 = req(rb.newBitmap);
    s = await open(r8);
    assert.deepEqual(s.disks.map((d) => d.mode), ['full', 'full']);
    assert.match(disk(s, 'root').reason ?? '', new RegExp(`bitmap ${rb.newBitmap} is missing on disk root`));
    await s.finish(true);
    await stop();
    await boot(); // loads b8 from the image (marked in use there)
    await kill();
    const r9 = req(r8.newBitmap);
    logs.length = 0;
    s = await open(r9);
    assert.deepEqual(s.disks.map((d) => d.mode), ['full', 'full']);
    assert.match(disk(s, 'root').reason ?? '', /inconsistent/);
    assert.ok(logs.some((l) => new RegExp(`disk root: full read: bitmap ${r8.newBitmap} on disk root is inconsistent`).test(l)), logs.join('\n'));
    assert.ok((await dirtySpans(disk(s, 'root').reader)).length > 0);
    await s.finish(true);
    await leftovers();
    await stop();
    assert.deepEqual((await imageBitmaps(exec, spec.root.path)).map((b) => [b.name, b.inconsistent]), [[r9.newBitmap, false]], 'the inconsistent bitmap is gone');
  } finally {
    await driver.destroy(spec, []).catch(() => undefined);
    driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
