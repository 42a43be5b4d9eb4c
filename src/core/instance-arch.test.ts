import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchArch } from './instance-arch.js';
import { NimboError } from '../lib/errors.js';

const ok = (arch: 'x86_64' | 'aarch64' | 'riscv64', native = false) => ({ arch, native, missing: [] });
const support = [ok('x86_64', true), ok('aarch64'), { arch: 'riscv64' as const, native: false, missing: [{ what: 'emulator qemu-system-riscv64', pkg: 'qemu-system-misc' }] }];
const code = (re: RegExp, c: string) => (e: unknown) => e instanceof NimboError && e.code === c && re.test(e.message);

test("the launch's architecture: the image's by default; refused on a mismatch, a missing emulator, a foreign container", () => {
  assert.equal(launchArch({ image: 'tiny-aarch64', imageArch: 'aarch64', kind: 'vm', support, native: 'x86_64' }), 'aarch64');
  assert.equal(launchArch({ asked: 'x86_64', image: 'tiny', imageArch: 'x86_64', kind: 'vm', support, native: 'x86_64' }), 'x86_64');
  assert.throws(() => launchArch({ asked: 'aarch64', image: 'tiny', imageArch: 'x86_64', kind: 'vm', support, native: 'x86_64' }), code(/image tiny is built for x86_64, not aarch64/, 'InvalidArgument'));
  assert.throws(() => launchArch({ image: 'tiny-riscv64', imageArch: 'riscv64', kind: 'vm', support, native: 'x86_64' }), code(/emulator qemu-system-riscv64 is not installed \(Debian package qemu-system-misc\)/, 'Conflict'));
  assert.throws(() => launchArch({ image: 'tiny-aarch64', imageArch: 'aarch64', kind: 'container', support, native: 'x86_64' }), code(/containers run the host's architecture/, 'InvalidArgument'));
  assert.equal(launchArch({ image: 'tiny', imageArch: 'x86_64', kind: 'container', native: 'x86_64' }), 'x86_64');
});
