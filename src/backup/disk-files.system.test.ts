import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../host/exec.js';
import { openDiskFiles } from './disk-files.js';

// Single-file restore from a raw disk image with a real partition table (sfdisk) and a filled ext4
// (mkfs.ext4 -d): read-only loop + mount, listing, streaming, symlinks refused when they leave the
// partition, and every loop device and mount gone afterwards. Needs root, fdisk, e2fsprogs, util-linux.
const missing = process.getuid?.() !== 0 ? 'needs root' : ['/usr/sbin/sfdisk', '/usr/sbin/mkfs.ext4', '/usr/sbin/losetup'].find((t) => !existsSync(t));
const skip = process.env.CI === 'true' ? false : missing ?? false;
const MiB = 1024 * 1024;

const read = async (s: NodeJS.ReadableStream): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

for (const label of ['gpt', 'dos'] as const) {
  test(`real ${label} disk image: partitions, list, read a file, refuse escaping symlinks, clean up`, { skip, timeout: 120_000 }, async () => {
    assert.equal(missing, undefined, String(missing));
    const exec = new RealExec();
    const dir = mkdtempSync(join(tmpdir(), `diskfiles-sys-${process.pid}-`));
    const img = join(dir, 'disk.raw');
    const src = join(dir, 'src');
    const big = randomBytes(3 * MiB + 123);
    mkdirSync(join(src, 'dir'), { recursive: true });
    writeFileSync(join(src, 'hello.txt'), 'hello from the guest\n');
    writeFileSync(join(src, 'dir/big.bin'), big);
    symlinkSync('/etc/passwd', join(src, 'link-out'));
    symlinkSync('dir/big.bin', join(src, 'rel'));
    symlinkSync('../../../../../etc/passwd', join(src, 'dir/escape'));
    const df = { current: undefined as Awaited<ReturnType<typeof openDiskFiles>> | undefined };
    try {
      await exec.run(['truncate', '-s', '64M', img]);
      await exec.run(['sfdisk', '-q', img], { input: `label: ${label}\nstart=2048, size=81920, type=${label === 'gpt' ? '0FC63DAF-8483-4772-8E79-3D69D8477DE4' : '83'}\nstart=83968, size=20480\n` });
      await exec.run(['mkfs.ext4', '-q', '-F', '-d', src, '-E', `offset=${MiB}`, img, '40M']);
      const mountsBefore = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('nimbo-diskfiles-')));
      const d = (df.current = await openDiskFiles(img, exec));
      assert.deepEqual(d.partitions(), [{ index: 1, start: MiB, size: 40 * MiB, fs: 'ext4' }, { index: 2, start: 41 * MiB, size: 10 * MiB, fs: null }]);
      const names = (await d.list(1, '/')).map((e) => [e.name, e.type]);
      for (const want of [['hello.txt', 'file'], ['dir', 'dir'], ['link-out', 'symlink'], ['rel', 'symlink']]) assert.ok(names.some((n) => n[0] === want[0] && n[1] === want[1]), JSON.stringify(names));
      const hello = await d.open(1, '/hello.txt');
      assert.equal((await read(hello.stream)).toString(), 'hello from the guest\n');
      const r = await d.open(1, '/rel');
      assert.equal(r.size, big.length);
      assert.equal(createHash('sha256').update(await read(r.stream)).digest('hex'), createHash('sha256').update(big).digest('hex'));
      await assert.rejects(d.open(1, '/link-out'), /absolute path \/etc\/passwd: refused/);
      await assert.rejects(d.open(1, '/dir/escape'), /outside the partition: refused/);
      await assert.rejects(d.list(1, '/hello.txt'), /is not a directory/);
      await assert.rejects(d.list(2, '/'), /partition 2 has no ext4 or XFS filesystem/);
      await assert.rejects(d.list(3, '/'), /partition 3/);
      const open = await d.open(1, '/dir/big.bin'); // left open: close() must still unmount
      open.stream.pause();
      await d.close();
      await d.close();
      assert.equal((await exec.run(['losetup', '-j', img])).stdout.trim(), '', 'no loop device left');
      // Only this test's own mount points count: a daemon of another test may hold a backup disk open meanwhile.
      assert.deepEqual(readdirSync(tmpdir()).filter((f) => f.startsWith('nimbo-diskfiles-') && !mountsBefore.has(f)), [], 'no mount point left');
      await assert.rejects(d.list(1, '/'), /closed/);
    } finally {
      await df.current?.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
