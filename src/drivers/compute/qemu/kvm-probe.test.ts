import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecOptions, ExecResult, HostExec } from '../../../host/exec.js';
import { FakeExec } from '../../../host/fake-exec.js';
import { interpretProbe, probeAccelerator } from './kvm-probe.js';
import { KVM_PROBE_EXIT, kvmProbeImage } from './kvm-probe-image.js';

const run = (over: Partial<Parameters<typeof interpretProbe>[0]>) =>
  interpretProbe({ code: -1, serial: '', stderr: '', elapsedMs: 6000, timeoutMs: 6000, ...over });

test('interpretProbe: success only when the guest finished and exited through isa-debug-exit', () => {
  const ok = run({ code: KVM_PROBE_EXIT, serial: '12................OK\n', elapsedMs: 180 });
  assert.equal(ok.accelerator, 'kvm');
  assert.match(ok.reason, /180 ms/);
});

test('interpretProbe: each way of failing says how far the guest got', () => {
  assert.match(run({ serial: '' }).reason, /printed nothing.*Booting from ROM.*using TCG/);
  assert.match(run({ serial: '1' }).reason, /32-bit mode but not long mode/);
  const slow = run({ serial: '12..' });
  assert.equal(slow.accelerator, 'tcg');
  assert.match(slow.reason, /far too slowly: 2 of 16 work chunks within 6000 ms/);
  const reset = run({ code: 0, serial: '1', elapsedMs: 2500 });
  assert.match(reset.reason, /triple fault/);
  const abort = run({ code: 134, elapsedMs: 100, stderr: "qemu: warning: host doesn't support requested feature: x\nqemu: error: failed to set MSR 0x10a\n" });
  assert.match(abort.reason, /status 134.*failed to set MSR 0x10a/);
});

test('NIMBO_ACCEL forces the choice without probing; junk values are reported', async () => {
  const exec = new FakeExec();
  assert.deepEqual(await probeAccelerator(exec, { env: { NIMBO_ACCEL: 'tcg' } }), { accelerator: 'tcg', reason: 'forced by NIMBO_ACCEL=tcg' });
  assert.equal((await probeAccelerator(exec, { env: { NIMBO_ACCEL: 'KVM' } })).accelerator, 'kvm');
  assert.equal(exec.calls.length, 0);
  const r = await probeAccelerator(exec, { env: { NIMBO_ACCEL: 'xen' }, kvmDevice: '/nonexistent/kvm' });
  assert.match(r.reason, /cannot open \/nonexistent\/kvm \(ENOENT\).*ignored NIMBO_ACCEL="xen"/);
});

test('no KVM device: TCG without running QEMU', async () => {
  const exec = new FakeExec();
  const r = await probeAccelerator(exec, { env: {}, kvmDevice: '/nonexistent/kvm' });
  assert.equal(r.accelerator, 'tcg');
  assert.equal(exec.calls.length, 0);
});

/** A HostExec standing in for QEMU: checks the image and writes `serial` to the chardev file. */
class FakeQemu implements HostExec {
  argv: string[] = [];
  constructor(private serial: string, private code: number) {}
  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.argv = argv;
    assert.deepEqual(readFileSync(argv[argv.indexOf('-kernel') + 1]), kvmProbeImage());
    const chardev = argv[argv.indexOf('-chardev') + 1]!;
    writeFileSync(chardev.slice(chardev.indexOf('path=') + 5), this.serial);
    assert.equal(opts.allowFailure, true);
    return { stdout: '', stderr: '', code: this.code };
  }
}

test('probe runs the image under KVM and reads the guest serial output', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qh1-probe-'));
  const dev = join(dir, 'kvm');
  writeFileSync(dev, ''); // any openable file stands in for /dev/kvm
  try {
    const good = new FakeQemu('12................OK\n', KVM_PROBE_EXIT);
    const r = await probeAccelerator(good, { env: {}, kvmDevice: dev, binary: '/opt/qemu' });
    assert.equal(r.accelerator, 'kvm', r.reason);
    assert.equal(good.argv[0], '/opt/qemu');
    assert.deepEqual(good.argv.slice(good.argv.indexOf('-accel'), good.argv.indexOf('-accel') + 2), ['-accel', 'kvm']);
    assert.ok(good.argv.includes('-no-reboot'));
    const hung = await probeAccelerator(new FakeQemu('12.', -1), { env: {}, kvmDevice: dev, timeoutMs: 10 });
    assert.equal(hung.accelerator, 'tcg');
    assert.match(hung.reason, /1 of 16 work chunks/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the probe image is a multiboot kernel (magic, checksum) of 206 bytes', () => {
  const img = kvmProbeImage();
  assert.equal(img.length, 206);
  const magic = img.readUInt32LE(0);
  assert.equal(magic, 0x1badb002);
  assert.equal((magic + img.readUInt32LE(4) + img.readUInt32LE(8)) >>> 0, 0);
});
