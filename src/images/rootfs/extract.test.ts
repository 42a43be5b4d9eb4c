import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageTreeDir, imageTreeRoot, pickRootRegion, readOnlyMountOptions } from './extract.js';

test('pickRootRegion: whole disk without a partition table', () => {
  assert.deepEqual(pickRootRegion(null), { offsetBytes: 0, sizeBytes: 0 });
  assert.deepEqual(pickRootRegion({}), { offsetBytes: 0, sizeBytes: 0 });
});

test('pickRootRegion: debian-12 MBR (one Linux partition from 1 MiB)', () => {
  const table = { partitiontable: { label: 'dos', unit: 'sectors', sectorsize: 512,
    partitions: [{ node: 'disk.raw1', start: 2048, size: 4192256, type: '83', bootable: true }] } };
  assert.deepEqual(pickRootRegion(table), { offsetBytes: 1048576, sizeBytes: 4192256 * 512 });
});

test('pickRootRegion: MBR skips swap, extended and EFI; largest data partition wins', () => {
  const table = { partitiontable: { label: 'dos', partitions: [
    { start: 2048, size: 100000, type: 'ef' },
    { start: 102048, size: 50000, type: '83' },
    { start: 152048, size: 900000, type: '82' },
    { start: 1052048, size: 400000, type: '5' },
    { start: 1060000, size: 300000, type: '83' },
  ] } };
  assert.deepEqual(pickRootRegion(table), { offsetBytes: 1060000 * 512, sizeBytes: 300000 * 512 });
});

test('pickRootRegion: GPT prefers the x86-64 root type, else the largest non-ESP/BIOS/swap', () => {
  const esp = { start: 2048, size: 200000, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' };
  const bios = { start: 202048, size: 2048, type: '21686148-6449-6E6F-744E-656564454649' };
  const root = { start: 204096, size: 1000, type: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709' };
  const data = { start: 300000, size: 900000, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' };
  assert.deepEqual(pickRootRegion({ partitiontable: { label: 'gpt', sectorsize: 4096, partitions: [esp, bios, data, root] } }),
    { offsetBytes: 204096 * 4096, sizeBytes: 1000 * 4096 });
  assert.deepEqual(pickRootRegion({ partitiontable: { label: 'gpt', partitions: [esp, bios, data] } }),
    { offsetBytes: 300000 * 512, sizeBytes: 900000 * 512 });
  assert.throws(() => pickRootRegion({ partitiontable: { label: 'gpt', partitions: [esp, bios] } }), /no data partition/);
});

test('read-only mount options never replay a journal', () => {
  assert.equal(readOnlyMountOptions('ext4'), 'ro,nosuid,nodev,noexec,noload');
  assert.equal(readOnlyMountOptions('xfs'), 'ro,nosuid,nodev,noexec,norecovery,nouuid');
  assert.equal(readOnlyMountOptions('btrfs'), 'ro,nosuid,nodev,noexec');
});

test('the tree is cached next to the image disk', () => {
  assert.equal(imageTreeDir({ disk: '/var/lib/nimbo/images/tiny/disk.qcow2' }), '/var/lib/nimbo/images/tiny/rootfs.tree');
  assert.equal(imageTreeRoot('/var/lib/nimbo/images/tiny/rootfs.tree'), '/var/lib/nimbo/images/tiny/rootfs.tree/root');
});
