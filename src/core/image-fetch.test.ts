import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUrlImport } from './image-url-import.js';
import { builtFrom, upToDate } from './image-remote-cache.js';
import { parseIndex, remoteBaseUrl } from './image-remotes.js';
import { isServed, servedFiles } from './image-server.js';
import type { ImageRecord } from './image-service.js';
import type { ServedImage } from '../shared/image-fetch-types.js';

const S1 = '1'.repeat(64);
const S2 = '2'.repeat(64);

const served = (over: Partial<ServedImage> = {}): ServedImage => ({
  name: 'tiny', type: 'disk', format: 'qcow2', size: 1024, sha256: S1, updated: '2026-01-01T00:00:00Z', os: 'x',
  boot: { kind: 'direct', kernel: 'vmlinux', initrd: 'initrd.img', cmdline: 'console=ttyS0' },
  files: [{ name: 'disk.qcow2', size: 10, sha256: S1 }, { name: 'vmlinux', size: 5, sha256: S2 }, { name: 'initrd.img', size: 5, sha256: S2 }],
  ...over,
});

const record = (over: Partial<ImageRecord> = {}): ImageRecord => ({
  name: 'tiny', source: 'builtin:tiny', status: 'ready', createdAt: 'now',
  built: { name: 'tiny', dir: '/i/tiny', disk: '/i/tiny/disk.qcow2', format: 'qcow2', virtualSizeBytes: 1024, os: 'x', boot: { kind: 'direct', kernel: '/i/tiny/vmlinux', initrd: '/i/tiny/initrd.img', cmdline: '' } },
  ...over,
});

test('checkUrlImport: a valid request passes; bad names, schemes, credentials, sums and both sums are refused', () => {
  assert.deepEqual(checkUrlImport({ name: 'img', url: 'https://h/a.qcow2', sha256: S1.toUpperCase() }).sha256, S1);
  assert.equal(checkUrlImport({ name: 'img', url: 'http://h/a.qcow2', sha256sums: 'http://h/SHA256SUMS' }).sums?.href, 'http://h/SHA256SUMS');
  assert.throws(() => checkUrlImport({ name: 'Bad', url: 'https://h/a' }), /image name "Bad"/);
  assert.throws(() => checkUrlImport({ name: 'img', url: 'ftp://h/a' }), /only http:\/\/ and https:\/\//);
  assert.throws(() => checkUrlImport({ name: 'img', url: 'https://u:p@h/a' }), /user or password/);
  assert.throws(() => checkUrlImport({ name: 'img', url: 'https://h/a', sha256: 'xyz' }), /not a sha256/);
  assert.throws(() => checkUrlImport({ name: 'img', url: 'https://h/a', sha256: S1, sha256sums: 'https://h/S' }), /not both/);
  assert.throws(() => checkUrlImport({ name: 'img', url: 'https://h/', sha256sums: 'https://h/S' }), /names no file/);
});

test('the server serves ready public disk images of its own, with their kernel and initrd', () => {
  assert.deepEqual(servedFiles(record()), ['disk.qcow2', 'vmlinux', 'initrd.img']);
  assert.equal(isServed(record()), true);
  assert.equal(isServed(record({ status: 'building' })), false);
  assert.equal(isServed(record({ name: 'lab:tiny' })), false, 'a fetched image is not served on');
  const oci = record();
  oci.built = { ...oci.built!, disk: '', oci: { rootfs: '/r', config: {} as never } };
  assert.equal(isServed(oci), false);
});

test('a cached copy is up to date only when every file sum matches the index', () => {
  const sums = { 'disk.qcow2': S1, vmlinux: S2, 'initrd.img': S2 };
  assert.equal(upToDate(record({ fetched: { from: 'x', sha256: sums } }), served()), true);
  assert.equal(upToDate(record({ fetched: { from: 'x', sha256: { ...sums, vmlinux: S1 } } }), served()), false);
  assert.equal(upToDate(record(), served()), false, 'not fetched');
  assert.equal(upToDate(undefined, served()), false);
  assert.equal(upToDate(record({ status: 'building', fetched: { from: 'x', sha256: sums } }), served()), false);
});

test('builtFrom maps a served image into the cache dir and refuses boot files it does not list', () => {
  const b = builtFrom('lab:tiny', served(), '/c/lab:tiny');
  assert.equal(b.disk, '/c/lab:tiny/disk.qcow2');
  assert.deepEqual(b.boot, { kind: 'direct', kernel: '/c/lab:tiny/vmlinux', initrd: '/c/lab:tiny/initrd.img', cmdline: 'console=ttyS0' });
  assert.throws(() => builtFrom('lab:tiny', served({ boot: { kind: 'direct', kernel: '../../etc/x' } }), '/c'), /does not list/);
  assert.throws(() => builtFrom('lab:tiny', served({ format: 'vmdk' }), '/c'), /not qcow2 or raw/);
});

test('parseIndex keeps well-formed images only; remoteBaseUrl normalises a daemon URL', () => {
  const bad = { ...served(), files: [{ name: '../x', size: 1, sha256: S1 }] };
  const list = parseIndex(JSON.stringify({ images: [served(), bad, { name: 1 }] }), 'http://a');
  assert.deepEqual(list.map((i) => i.name), ['tiny']);
  assert.throws(() => parseIndex('nope', 'http://a'), /not JSON/);
  assert.throws(() => parseIndex('{}', 'http://a'), /without images/);
  assert.equal(remoteBaseUrl('https://h:8443/'), 'https://h:8443');
  assert.throws(() => remoteBaseUrl('https://h/?x=1'), /no query/);
  assert.throws(() => remoteBaseUrl('ftp://h'), /only http/);
});
