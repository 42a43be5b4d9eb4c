import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUrlSource, parseImageArg, urlImportBody } from './image-fetch.js';

test('image import tells URLs from files, and sends only http(s) URLs with one kind of checksum', () => {
  assert.equal(isUrlSource('https://h/a.img'), true);
  assert.equal(isUrlSource('ftp://h/a.img'), true);
  assert.equal(isUrlSource('./a.img'), false);
  assert.equal(isUrlSource('/srv/a:b.img'), false);
  assert.deepEqual(urlImportBody('https://h/a.img', { name: 'a', sha256: 'x' }), { name: 'a', url: 'https://h/a.img', sha256: 'x' });
  assert.throws(() => urlImportBody('ftp://h/a.img', { name: 'a' }), /only http:\/\/ and https:\/\//);
  assert.throws(() => urlImportBody('https://h/a.img', { name: 'a', sha256: 'x', sha256sums: 'y' }), /not both/);
});

test('launch takes NAME or REMOTE:NAME as its image', () => {
  assert.equal(parseImageArg('tiny'), 'tiny');
  assert.equal(parseImageArg('lab:tiny'), 'lab:tiny');
  assert.throws(() => parseImageArg('lab:Tiny'));
  assert.throws(() => parseImageArg('Lab:tiny'));
});
