import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizeBody } from './vps-actions.js';

test('nimbo resize: sizes become whole MiB/GiB fields; a plan with sizes, nothing, or a part-unit size is a usage error', () => {
  assert.deepEqual(resizeBody({ disk: '40GiB' }), { type: 'resize', diskGiB: 40 });
  assert.deepEqual(resizeBody({ cpus: 2, memory: '1536MiB' }), { type: 'resize', vcpus: 2, memoryMiB: 1536 });
  assert.deepEqual(resizeBody({ plan: 'm2' }), { type: 'resize', plan: 'm2' });
  assert.throws(() => resizeBody({ plan: 'm2', cpus: 2 }), { message: 'give --plan, or --cpus/--memory/--disk, not both' });
  assert.throws(() => resizeBody({}), { message: 'nothing to resize: give --plan, --cpus, --memory or --disk' });
  assert.throws(() => resizeBody({ disk: '1536MiB' }), { message: 'disk 1536MiB is not a whole number of GiB' });
});
