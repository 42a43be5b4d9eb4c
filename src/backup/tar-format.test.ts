// Pure parts of the tree backup format: pax records, header encode/decode, safe names, catalog reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK, decodeHeader, encodeHeader, parsePax, paxRecord } from './tar-format.js';
import { safeParts } from './tar-extract.js';
import { catalogEntries, catalogFile, catalogList } from './tar-catalog.js';
import type { CatalogEntry } from './tar-writer.js';

test('pax records count their own length, also across a digit boundary', () => {
  for (let n = 0; n < 200; n++) {
    const r = paxRecord('path', 'x'.repeat(n));
    const len = Number(r.toString('latin1').split(' ')[0]);
    assert.equal(len, r.length, `value of ${n} bytes`);
  }
  const bin = Buffer.from([0, 1, 2, 0x0a, 0xff]);
  assert.deepEqual(parsePax(Buffer.concat([paxRecord('SCHILY.xattr.user.a', bin), paxRecord('uid', '4000000')])),
    new Map([['SCHILY.xattr.user.a', bin], ['uid', Buffer.from('4000000')]]));
  assert.throws(() => parsePax(Buffer.from('99 path=x\n')), /malformed pax/);
});

test('a short header is one ustar block; a long name, a big id or an xattr adds a pax header', () => {
  const short = encodeHeader({ name: './etc/passwd', type: 'file', mode: 0o4755, uid: 0, gid: 42, size: 1234, mtime: 1700000000 });
  assert.equal(short.length, BLOCK);
  const d = decodeHeader(short);
  assert.deepEqual([d.flag, d.header.name, d.header.mode, d.header.gid, d.header.size, d.header.mtime], ['0', './etc/passwd', 0o4755, 42, 1234, 1700000000]);

  const name = `./${'d'.repeat(120)}/${'f'.repeat(80)}`;
  const long = encodeHeader({ name, type: 'symlink', mode: 0o777, uid: 3_000_000, gid: 1, size: 0, mtime: 1, linkname: 'l'.repeat(150), xattrs: new Map([['user.k', Buffer.from('v')]]) });
  assert.equal(long.length % BLOCK, 0);
  const x = decodeHeader(long.subarray(0, BLOCK));
  assert.equal(x.flag, 'x');
  const recs = parsePax(long.subarray(BLOCK, BLOCK + x.header.size));
  assert.equal(recs.get('path')!.toString(), name);
  assert.equal(recs.get('linkpath')!.toString(), 'l'.repeat(150));
  assert.equal(recs.get('uid')!.toString(), '3000000');
  assert.equal(recs.get('SCHILY.xattr.user.k')!.toString(), 'v');
  assert.equal(decodeHeader(long.subarray(long.length - BLOCK)).flag, '2');

  const bad = Buffer.from(short);
  bad[10] = 0x41;
  assert.throws(() => decodeHeader(bad), /checksum/);
});

test('entry names: absolute paths and .. are refused, ./ and // are folded', () => {
  assert.deepEqual(safeParts('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(safeParts('./'), []);
  assert.throws(() => safeParts('/etc/passwd'), /absolute path/);
  assert.throws(() => safeParts('a/../../x'), /outside the target/);
  assert.throws(() => safeParts('..'), /outside the target/);
});

test('catalog: entries from chunks cut anywhere, a directory listing, one file\'s byte range', async () => {
  const e = (path: string, type: CatalogEntry['type'], extra: Partial<CatalogEntry> = {}): CatalogEntry =>
    ({ path, type, size: 0, mode: 0o755, uid: 0, gid: 0, mtime: 1, headerOffset: 0, dataOffset: 0, ...extra });
  const entries = [e('/', 'dir'), e('/etc', 'dir'), e('/etc/hosts', 'file', { size: 10, dataOffset: 2048 }), e('/etc/ssl', 'dir'),
    e('/etc/ssl/x', 'file'), e('/etc/h2', 'hardlink', { linkTarget: '/etc/hosts', size: 10, dataOffset: 2048 }), e('/bin', 'symlink', { linkTarget: 'usr/bin' }),
    e('/über', 'file', { size: 3, dataOffset: 4096 })];
  const text = Buffer.from(entries.map((x) => JSON.stringify(x)).join('\n') + '\n');
  async function* chunks() {
    for (let i = 0; i < text.length; i += 7) yield text.subarray(i, i + 7); // cuts lines and the ü
  }
  const back: CatalogEntry[] = [];
  for await (const x of catalogEntries(chunks())) back.push(x);
  assert.deepEqual(back, entries);
  const lines = entries.map((x) => JSON.stringify(x));
  assert.deepEqual((await catalogList(lines, '/etc/')).map((x) => x.path), ['/etc/hosts', '/etc/ssl', '/etc/h2']);
  assert.deepEqual((await catalogList(lines, '/')).map((x) => x.path), ['/etc', '/bin', '/über']);
  assert.deepEqual(await catalogFile(lines, 'etc/h2').then((r) => [r.dataOffset, r.size]), [2048, 10]);
  assert.deepEqual(await catalogFile(chunks(), '/über').then((r) => [r.dataOffset, r.size]), [4096, 3]);
  await assert.rejects(catalogFile(lines, '/bin'), /symlink to usr\/bin, not a regular file/);
  await assert.rejects(catalogFile(lines, '/nope'), /not found/);
  await assert.rejects(catalogList(lines, '/etc/hosts'), /not a directory/);
  await assert.rejects(catalogFile(lines, '/etc/../x'), /'\.\.'/);
});
