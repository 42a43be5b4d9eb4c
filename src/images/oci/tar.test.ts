import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { indexTar, isTarHeader, normalizeMemberName, resolveMember, scanTarMembers, TarFormatError } from './tar.js';
import { makeTar } from './fixtures.js';

async function withDir(fn: (d: string) => Promise<void>) {
  const d = await mkdtemp(join(tmpdir(), 'nimbo-ocitar-'));
  try {
    await fn(d);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

const long = 'd/'.repeat(60) + 'file.txt';

test('indexTar: ustar, pax and GNU long names, links, offsets', async () => {
  await withDir(async (d) => {
    const f = join(d, 'a.tar');
    await writeFile(f, makeTar([
      { name: './index.json', data: '{"a":1}' },
      { name: 'blobs/', type: 'dir' },
      { name: long, data: 'pax' },
      { name: long.replace('file', 'gnu'), data: 'gnu', gnuLongName: true },
      { name: 'x/layer.tar', type: 'symlink', linkname: '../y/layer.tar' },
      { name: 'y/layer.tar', data: 'LAYER' },
      { name: 'hl', type: 'hardlink', linkname: 'y/layer.tar' },
      { name: 'esc', type: 'symlink', linkname: '../../etc/passwd' },
      { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
    ]));
    const idx = (await indexTar(f))!;
    assert.ok(idx);
    assert.equal(idx.get('index.json')?.size, 7);
    assert.equal(idx.get('blobs')?.type, 'dir');
    assert.equal(idx.get(long)?.size, 3);
    assert.equal(idx.get(long.replace('file', 'gnu'))?.size, 3);
    assert.equal(resolveMember(idx, 'x/layer.tar')?.name, 'y/layer.tar');
    assert.equal(resolveMember(idx, 'hl')?.name, 'y/layer.tar');
    assert.equal(resolveMember(idx, 'esc'), undefined, 'links never leave the archive');
    assert.equal(resolveMember(idx, 'abs'), undefined);
    const r = (await scanTarMembers(f, (n) => n === 'index.json' || n === 'y/layer.tar'))!;
    assert.equal(r.found.get('index.json')?.toString(), '{"a":1}');
    assert.equal(r.found.get('y/layer.tar')?.toString(), 'LAYER');
  });
});

test('scanTarMembers: gzip streams, early stop, not-a-tar and broken tars', async () => {
  await withDir(async (d) => {
    const t = makeTar([{ name: 'oci-layout', data: '{}' }, { name: 'big', data: Buffer.alloc(100_000, 1) }, { name: 'index.json', data: '[]' }]);
    const gz = join(d, 'a.tar.gz');
    await writeFile(gz, gzipSync(t));
    const r = (await scanTarMembers(gz, () => true, { gzip: true, maxBytes: 10, stopWhen: (f) => f.has('index.json') }))!;
    assert.deepEqual([...r.found.keys()].sort(), ['index.json', 'oci-layout'], 'oversized members are not read');

    const junk = join(d, 'junk');
    await writeFile(junk, Buffer.alloc(4096, 7));
    assert.equal(await indexTar(junk), null);
    await writeFile(junk, Buffer.alloc(4096));
    assert.equal(await indexTar(junk), null, 'all zeros is no archive');
    const gzJunk = join(d, 'junk.gz');
    await writeFile(gzJunk, gzipSync(Buffer.alloc(4096, 9)));
    assert.equal(await scanTarMembers(gzJunk, () => true, { gzip: true }), null);

    const broken = Buffer.from(t);
    broken[512 * 2 + 10] ^= 0xff; // the second header
    const bf = join(d, 'broken.tar');
    await writeFile(bf, broken);
    await assert.rejects(indexTar(bf), TarFormatError);
    await writeFile(bf, t.subarray(0, 1536 + 100)); // truncated inside the second member
    await assert.rejects(indexTar(bf), /truncated/);
  });
});

test('isTarHeader and normalizeMemberName', () => {
  const t = makeTar([{ name: 'a', data: 'x' }]);
  assert.equal(isTarHeader(t.subarray(0, 512)), true);
  assert.equal(isTarHeader(Buffer.alloc(512)), false);
  assert.equal(normalizeMemberName('./././a//b/'), 'a/b');
});
