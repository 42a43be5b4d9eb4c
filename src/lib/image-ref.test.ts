import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRemoteRef, parseImageRef } from './image-ref.js';

test('parseImageRef: NAME or REMOTE:NAME, both valid names', () => {
  assert.deepEqual(parseImageRef('tiny'), { image: 'tiny' });
  assert.deepEqual(parseImageRef('lab:tiny'), { remote: 'lab', image: 'tiny' });
  assert.throws(() => parseImageRef('Lab:tiny'), /image remote "Lab"/);
  assert.throws(() => parseImageRef('lab:'), /image name ""/);
  assert.throws(() => parseImageRef('a:b:c'), /image name "b:c"/);
  assert.equal(isRemoteRef('lab:tiny'), true);
  assert.equal(isRemoteRef('tiny'), false);
});
