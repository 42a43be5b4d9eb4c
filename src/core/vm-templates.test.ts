import { test } from 'node:test';
import assert from 'node:assert/strict';
import { templateLaunchShape, warmStartOf, type VmTemplate } from './vm-templates.js';

const tpl: VmTemplate = {
  cpus: 1, memoryBytes: 256 * 1024 ** 2, machine: 'q35', arch: 'x86_64', accelerator: 'tcg',
  nicMacs: ['52:54:00:00:00:01'], stateBytes: 1000, stateFile: '/images/.private/p/t/state.bin', source: 'src',
};

test('a launch from a template gets its exact shape', () => {
  assert.deepEqual(templateLaunchShape(tpl, { image: 't' }, undefined, 'tcg'), { cpus: 1, memory: 256 * 1024 ** 2 });
  assert.deepEqual(templateLaunchShape(tpl, { image: 't', cpus: 1, nics: [{ network: 'n' }] }, 256 * 1024 ** 2, 'tcg'), { cpus: 1, memory: 256 * 1024 ** 2 });
});

test('another shape, a container, or another accelerator is refused', () => {
  assert.throws(() => templateLaunchShape(tpl, { image: 't', cpus: 2 }, undefined, 'tcg'), { code: 'InvalidArgument', message: /1 CPU\(s\)/ });
  assert.throws(() => templateLaunchShape(tpl, { image: 't' }, 512 * 1024 ** 2, 'tcg'), { code: 'InvalidArgument', message: /256 MiB/ });
  assert.throws(() => templateLaunchShape(tpl, { image: 't', nics: [{ network: 'a' }, { network: 'b' }] }, undefined, 'tcg'), { code: 'InvalidArgument', message: /1 NIC/ });
  assert.throws(() => templateLaunchShape(tpl, { image: 't', type: 'container' }, undefined, 'tcg'), { code: 'InvalidArgument', message: /as a VM/ });
  assert.throws(() => templateLaunchShape(tpl, { image: 't' }, undefined, 'kvm'), { code: 'Conflict', message: /saved under tcg/ });
});

test('the warm start carries the state file, the seed and the template MACs', () => {
  assert.deepEqual(warmStartOf(tpl, { 'nimbo/hostname': 'w\n' }, 'NIMBO-READY'), {
    stateFile: tpl.stateFile, seed: { 'nimbo/hostname': 'w\n' }, templateMacs: ['52:54:00:00:00:01'], readyMarker: 'NIMBO-READY',
  });
});
