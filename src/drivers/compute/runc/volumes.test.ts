import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkMountPath } from './volumes.js';

test('mount paths are absolute, normalized and outside the trees init and nimbo own', () => {
  assert.equal(checkMountPath('/srv/data/', []), '/srv/data');
  assert.equal(checkMountPath('//var//lib/x', []), '/var/lib/x');
  assert.equal(checkMountPath('/runner', []), '/runner', 'only /run itself and below are reserved');
  const refused: [string, RegExp][] = [
    ['srv', /absolute/],
    ['/', /mounted at \//],
    ['///', /mounted at \//],
    ['/srv/../etc', /\.\./],
    ['/proc', /inside \/proc/],
    ['/sys/fs', /inside \/sys/],
    ['/dev/shm', /inside \/dev/],
    ['/run/lock', /inside \/run/],
    ['/.nimbo/seed', /inside \/\.nimbo/],
    ['/a\0b', /absolute/],
    ['/tmp/', /tmpfs/],
  ];
  for (const [p, re] of refused) assert.throws(() => checkMountPath(p, []), (e: Error & { code?: string }) => e.code === 'InvalidArgument' && re.test(e.message), p);
  assert.throws(() => checkMountPath('/srv/data', ['/srv/data', undefined]), /already mounted/);
});
