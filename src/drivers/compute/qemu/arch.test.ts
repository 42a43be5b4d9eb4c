import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderQemuArgv } from './argv.js';
import { allArchSupport, archSupport, missingMessage, qemuBinaryFor } from './arch.js';
import type { VmSpec } from '../types.js';

const base: VmSpec = {
  name: 'arm1', uuid: '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b', cpus: 1, memoryMiB: 256, runDir: '/run/nimbo/vms/arm1', accelerator: 'tcg',
  boot: { kind: 'direct', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyAMA0 root=/dev/vda rw' },
  disks: [{ id: 'root', path: '/pool/arm1.qcow2', format: 'qcow2' }], nics: [],
};
const after = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];

test('aarch64: qemu-system-aarch64 on virt (GICv3), max CPU, virtio-gpu, same PCIe slots and root ports; direct boot without firmware', () => {
  const argv = renderQemuArgv({ ...base, arch: 'aarch64' });
  assert.equal(argv[0], 'qemu-system-aarch64');
  assert.equal(after(argv, '-machine'), 'virt,gic-version=max');
  assert.equal(after(argv, '-cpu'), 'max,pauth-impdef=on');
  assert.ok(argv.includes('virtio-gpu-pci,id=video0,bus=pcie.0,addr=0x1'));
  assert.ok(argv.includes('virtio-blk-pci,drive=d-root,id=disk-root,bus=pcie.0,addr=0xb'));
  assert.ok(argv.includes('pcie-root-port,id=hotplug7,chassis=8,port=0x17,bus=pcie.0,addr=0x1b.7'));
  assert.equal(after(argv, '-serial'), 'chardev:serial0');
  assert.ok(!argv.includes('-bios') && !argv.some((a) => a.includes('pflash')));
  assert.equal(after(argv, '-kernel'), '/img/vmlinuz');
});

test('aarch64 disk boot: AAVMF code read-only on pflash0, the VM\'s own vars file on pflash1; refused without one', () => {
  const spec: VmSpec = { ...base, arch: 'aarch64', boot: { kind: 'disk' }, uefiVars: '/state/instances/u/uefi-vars.fd' };
  const argv = renderQemuArgv(spec);
  assert.equal(after(argv, '-machine'), 'virt,gic-version=max,pflash0=fw-code,pflash1=fw-vars');
  assert.ok(argv.includes(JSON.stringify({ driver: 'file', 'node-name': 'fw-code-file', filename: '/usr/share/AAVMF/AAVMF_CODE.fd', 'read-only': true })));
  assert.ok(argv.includes(JSON.stringify({ driver: 'file', 'node-name': 'fw-vars-file', filename: '/state/instances/u/uefi-vars.fd', 'read-only': false })));
  assert.ok(!argv.includes('-kernel'));
  assert.throws(() => renderQemuArgv({ ...spec, uefiVars: undefined }), /needs its UEFI variable store/);
});

test('riscv64: OpenSBI as -bios; disk boot through U-Boot as -kernel; unknown arch refused', () => {
  const argv = renderQemuArgv({ ...base, arch: 'riscv64' });
  assert.equal(argv[0], 'qemu-system-riscv64');
  assert.equal(after(argv, '-machine'), 'virt');
  assert.equal(after(argv, '-bios'), '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin');
  const disk = renderQemuArgv({ ...base, arch: 'riscv64', boot: { kind: 'disk' } });
  assert.equal(after(disk, '-kernel'), '/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf');
  assert.throws(() => renderQemuArgv({ ...base, arch: 'sparc' as never }), /unknown architecture/);
});

test('x86_64 stays q35 + VGA whether arch is absent or named', () => {
  assert.deepEqual(renderQemuArgv({ ...base, arch: 'x86_64' }), renderQemuArgv(base));
  assert.equal(after(renderQemuArgv(base), '-machine'), 'q35');
});

test('arch support: the emulator and each firmware file, with the Debian package that has it', () => {
  const probe = (have: string[]) => ({ executable: (p: string) => have.includes(p), readable: (f: string) => have.includes(f), native: 'x86_64' });
  const none = archSupport('aarch64', {}, probe([]));
  assert.deepEqual(none.missing.map((m) => m.pkg), ['qemu-system-arm', 'qemu-efi-aarch64', 'qemu-efi-aarch64']);
  assert.match(missingMessage(none), /apt-get install qemu-system-arm qemu-efi-aarch64$/);
  const rv = archSupport('riscv64', { riscv64: '/opt/q' }, probe(['/opt/q', '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin']));
  assert.deepEqual(rv.missing, [{ what: 'firmware /usr/lib/u-boot/qemu-riscv64_smode/uboot.elf', pkg: 'u-boot-qemu' }]);
  const all = allArchSupport({}, probe(['qemu-system-x86_64']));
  assert.deepEqual(all.map((a) => [a.arch, a.native, a.missing.length === 0]), [['x86_64', true, true], ['aarch64', false, false], ['riscv64', false, false]]);
  assert.equal(qemuBinaryFor('aarch64', { aarch64: '/x/q' }), '/x/q');
  assert.equal(qemuBinaryFor(undefined), 'qemu-system-x86_64');
});

