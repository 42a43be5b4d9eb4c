import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertArgv, createArgv, infoArgv, isLockError, parseConvertProgress, parseInfo, qemuOptValue, resizeArgv, snapshotArgv, topLayerHoldsData } from './qemu-img.js';

test('create argv: thin image, and an overlay naming its backing format', () => {
  assert.deepEqual(createArgv('/p/v.qcow2', 'qcow2', 1048576), ['qemu-img', 'create', '-q', '-f', 'qcow2', '/p/v.qcow2', '1048576']);
  assert.deepEqual(createArgv('/p/.tmp/x.qcow2', 'qcow2', 2048, { file: '../bases/b.qcow2', format: 'raw' }),
    ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '../bases/b.qcow2', '/p/.tmp/x.qcow2', '2048']);
});

test('every argv names the format; snapshot ops use --image-opts with commas escaped', () => {
  assert.deepEqual(infoArgv('/a', 'raw'), ['qemu-img', 'info', '--output=json', '-f', 'raw', '/a']);
  assert.deepEqual(resizeArgv('/a', 'qcow2', 4096), ['qemu-img', 'resize', '-q', '-f', 'qcow2', '/a', '4096']);
  assert.equal(qemuOptValue('/x,y/z'), '/x,,y/z');
  assert.deepEqual(snapshotArgv('apply', 's1', '/p,q/v.qcow2'),
    ['qemu-img', 'snapshot', '-q', '--image-opts', '-a', 's1', 'driver=qcow2,file.driver=file,file.filename=/p,,q/v.qcow2']);
  assert.deepEqual(snapshotArgv('create', 's', '/v')[4], '-c');
  assert.deepEqual(snapshotArgv('delete', 's', '/v')[4], '-d');
});

test('convert argv flattens, optionally from an internal snapshot', () => {
  assert.deepEqual(convertArgv({ src: '/a', srcFormat: 'raw', dst: '/b', dstFormat: 'qcow2' }), ['qemu-img', 'convert', '-p', '-f', 'raw', '-O', 'qcow2', '/a', '/b']);
  assert.deepEqual(convertArgv({ src: '/a', srcFormat: 'qcow2', dst: '/b', dstFormat: 'raw', snapshot: 'base1' }),
    ['qemu-img', 'convert', '-p', '-f', 'qcow2', '-O', 'raw', '-l', 'snapshot.name=base1', '/a', '/b']);
});

test('qemu-img info JSON is parsed (sizes, backing, snapshots)', () => {
  const info = parseInfo(JSON.stringify({
    format: 'qcow2', 'virtual-size': 67108864, 'actual-size': 1331200, 'backing-filename': '../bases/b.qcow2',
    snapshots: [{ id: '1', name: 's1', 'date-sec': 1700000000, 'date-nsec': 5, 'vm-state-size': 0 }],
    'format-specific': { type: 'qcow2', data: { compat: '1.1' } },
  }));
  assert.equal(info.virtualSize, 67108864);
  assert.equal(info.backingFile, '../bases/b.qcow2');
  assert.deepEqual(info.snapshots, [{ id: '1', name: 's1', dateSec: 1700000000, vmStateSize: 0 }]);
  assert.equal(info.encrypted, false);
  assert.deepEqual(parseInfo('{"format":"raw","virtual-size":1}').snapshots, []);
});

test('map output tells whether the top layer holds data', () => {
  const empty = '[{ "start": 0, "length": 1048576, "depth": 1, "present": true, "zero": false, "data": true},{ "start": 1048576, "length": 6, "depth": 1, "present": false, "zero": true, "data": false}]';
  assert.equal(topLayerHoldsData(empty), false);
  const written = '[{ "start": 0, "length": 65536, "depth": 0, "present": true, "zero": true, "data": false}]';
  assert.equal(topLayerHoldsData(written), true);
});

test('progress and lock messages are recognised', () => {
  assert.equal(parseConvertProgress('    (0.00/100%)\r    (42.17/100%)\r'), 42.17);
  assert.equal(parseConvertProgress(''), undefined);
  assert.equal(isLockError('qemu-img: Could not open \'a\': Failed to get shared "write" lock\nIs another process using the image [a]?'), true);
  assert.equal(isLockError('qemu-io: can\'t open device r.raw: Failed to get "write" lock'), true);
  assert.equal(isLockError('No space left on device'), false);
});
