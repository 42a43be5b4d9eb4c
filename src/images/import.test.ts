import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeExec } from '../host/fake-exec.js';
import type { ExecOptions, ExecResult } from '../host/exec.js';
import { checkImportable, importImage, parseConvertProgress, parseQemuImgInfo } from './import.js';

const info = (o: Record<string, unknown>) => JSON.stringify({ 'virtual-size': 1048576, 'actual-size': 4096, ...o });

/** A fake whose `qemu-img convert` writes its output file, like the real one. */
class ConvertingFake extends FakeExec {
  override async run(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    const res = await super.run(argv, opts);
    if (argv[1] === 'convert') await writeFile(argv.at(-1)!, 'QFI');
    return res;
  }
}

async function withDir(fn: (d: string) => Promise<void>) {
  const d = await mkdtemp(join(tmpdir(), 'qh2-import-'));
  try {
    await fn(d);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

test('parseQemuImgInfo + checkImportable', () => {
  const i = parseQemuImgInfo(info({ format: 'qcow2', 'backing-filename': '/etc/shadow', 'format-specific': { type: 'qcow2', data: { 'data-file': '/x' } } }));
  assert.equal(i.backingFile, '/etc/shadow');
  assert.equal(i.dataFile, '/x');
  assert.throws(() => checkImportable('/f', { ...i, dataFile: undefined }), /backing file/);
  assert.throws(() => checkImportable('/f', { ...i, backingFile: undefined }), /data file/);
  assert.throws(() => checkImportable('/f', parseQemuImgInfo(info({ format: 'vmdk' }))), { code: 'InvalidArgument', message: /vmdk image; nimbo imports qcow2 or raw/ });
  assert.equal(checkImportable('/f', parseQemuImgInfo(info({ format: 'raw' }))), 'raw');
});

test('parseConvertProgress: last percentage', () => {
  assert.equal(parseConvertProgress('    (0.00/100%)\r    (42.17/100%)\r    (100.00/100%)\r'), 100);
  assert.equal(parseConvertProgress(''), undefined);
});

test('importImage: rejects missing files, directories, other formats, broken images', async () => {
  await withDir(async (d) => {
    const exec = new FakeExec();
    const out = join(d, 'out');
    await assert.rejects(importImage({ exec, file: join(d, 'nope.qcow2'), name: 'x', outDir: out }), { code: 'InvalidArgument', message: /does not exist/ });
    await assert.rejects(importImage({ exec, file: d, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /not a regular file/ });
    const f = join(d, 'in.img');
    await writeFile(f, 'data');
    exec.on(['qemu-img', 'info'], { stdout: info({ format: 'raw' }) });
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /does not look like a disk image/ });
    await writeFile(f, Buffer.alloc(1024 * 1024)); // sized like a disk, but no boot sector
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /no MBR\/GPT boot signature/ });
    exec.on(['qemu-img', 'info'], { stdout: info({ format: 'vmdk' }) });
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { message: /vmdk/ });
    exec.on(['qemu-img', 'info'], { code: 1, stderr: "qemu-img: Could not open 'in.img': Image is not in qcow2 format" });
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /not a readable disk image/ });
    exec.on(['qemu-img', 'info'], { stdout: info({ format: 'qcow2' }) }).on(['qemu-img', 'check'], { code: 2, stderr: 'ERROR cluster 5 refcount=0' });
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /broken qcow2/ });
    exec.on(['qemu-img', 'check'], { code: 0 }).on(['qemu-img', 'convert'], { code: 1, stderr: 'qemu-img: error while reading at byte 0: Input/output error' });
    await assert.rejects(importImage({ exec, file: f, name: 'x', outDir: out }), { code: 'InvalidArgument', message: /Input\/output error/ });
    assert.deepEqual(await readdir(d), ['in.img'], 'no partial output left behind');
  });
});

test('importImage: converts raw to qcow2 and records a disk-boot image', async () => {
  await withDir(async (d) => {
    const f = join(d, 'in.raw');
    const disk = Buffer.alloc(1024 * 1024);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    await writeFile(f, disk);
    const exec = new ConvertingFake().on(['qemu-img', 'info'], { stdout: info({ format: 'raw' }) })
      .on(['qemu-img', 'convert'], { stdout: '    (0.00/100%)\r    (100.00/100%)\r' });
    const seen: number[] = [];
    const img = await importImage({ exec, file: f, name: 'mine', outDir: join(d, 'mine'), progress: (p) => seen.push(p) });
    assert.deepEqual(img, {
      name: 'mine', dir: join(d, 'mine'), disk: join(d, 'mine', 'disk.qcow2'), format: 'qcow2',
      virtualSizeBytes: 1048576, boot: { kind: 'disk' }, os: 'imported from in.raw (raw)',
    });
    assert.deepEqual((await readdir(join(d, 'mine'))).sort(), ['disk.qcow2', 'image.json']);
    assert.deepEqual((await readdir(d)).sort(), ['in.raw', 'mine']);
    const conv = exec.calls.find((c) => c.argv[1] === 'convert')!.argv;
    assert.deepEqual(conv.slice(0, 7), ['qemu-img', 'convert', '-p', '-f', 'raw', '-O', 'qcow2']);
    assert.equal(conv[7], f);
    assert.equal(seen.at(-1), 100);
    // A disk for another architecture says so in its record; x86_64 (the default) is not written.
    const arm = await importImage({ exec, file: f, name: 'arm', outDir: join(d, 'arm'), arch: 'aarch64' });
    assert.equal(arm.arch, 'aarch64');
    const x86 = await importImage({ exec, file: f, name: 'x86', outDir: join(d, 'x86'), arch: 'x86_64' });
    assert.equal('arch' in x86, false);
  });
});
