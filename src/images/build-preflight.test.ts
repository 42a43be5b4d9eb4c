import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILDERS } from './catalog.js';
import { buildBlockers, probeBuildHost, type BuildHost } from './build-preflight.js';

const host = (over: Partial<BuildHost> & { missing?: string[] } = {}): BuildHost => ({
  isRoot: over.isRoot ?? true,
  hasKernel: over.hasKernel ?? true,
  hasProgram: (p) => !(over.missing ?? []).includes(p),
});

test('buildBlockers: nothing when the host has everything', () => {
  assert.deepEqual(buildBlockers(BUILDERS['debian-12']!, host()), []);
  assert.deepEqual(buildBlockers(BUILDERS.tiny!, host()), []);
});

test('buildBlockers: names each missing program with its package, root and the host kernel', () => {
  assert.deepEqual(buildBlockers(BUILDERS['debian-12']!, host({ missing: ['mmdebstrap'] })), ['mmdebstrap is not installed (apt-get install mmdebstrap)']);
  assert.deepEqual(buildBlockers(BUILDERS.tiny!, host({ missing: ['dropbear', 'dropbearkey', 'cpio'], hasKernel: false, isRoot: false })), [
    'the daemon does not run as root (building an image needs root)',
    'dropbear, dropbearkey, cpio are not installed (apt-get install dropbear-bin cpio)',
    'no host kernel with modules in /boot and /lib/modules (apt-get install linux-image-amd64)',
  ]);
  // debian-12 does not use the host kernel.
  assert.deepEqual(buildBlockers(BUILDERS['debian-12']!, host({ hasKernel: false })), []);
});

test('probeBuildHost finds programs on PATH and in the sbin directories, and not made-up ones', async () => {
  const fake = { ...BUILDERS.tiny!, needs: [{ program: 'sh', pkg: 'dash' }, { program: 'no-such-tool-nimbo', pkg: 'x' }], hostKernel: false };
  const h = await probeBuildHost(fake);
  assert.equal(h.hasProgram('sh'), true);
  assert.equal(h.hasProgram('no-such-tool-nimbo'), false);
  assert.equal(h.isRoot, process.getuid?.() === 0);
  assert.deepEqual(buildBlockers(fake, { ...h, isRoot: true }), ['no-such-tool-nimbo is not installed (apt-get install x)']);
});
