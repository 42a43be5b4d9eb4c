import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../../../host/fake-exec.js';
import { VmFirmwareHost } from './vm-firmware.js';

const me = `${process.getuid!()}:${process.getgid!()}`;

test('state files: export of a UEFI+TPM VM, import into another (names checked, 0600), nothing for a BIOS VM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vmfw-'));
  try {
    const fw = new VmFirmwareHost({ exec: new FakeExec() });
    const ref = (n: string, cfg: unknown) => ({ uuid: n, name: n, hostIds: { runDir: join(dir, 'run', n), instanceDir: join(dir, 'inst', n) }, driverConfig: cfg });
    const a = ref('a', { qemuId: 1, firmware: 'uefi', tpm: true });
    const b = ref('b', { qemuId: 2, firmware: 'uefi', tpm: true });
    await mkdir(join(dir, 'inst', 'a', 'tpm'), { recursive: true });
    await writeFile(join(dir, 'inst', 'a', 'nvram.fd'), 'vars');
    await writeFile(join(dir, 'inst', 'a', 'tpm', 'tpm2-00.permall'), 'tpm');
    await writeFile(join(dir, 'inst', 'a', 'tpm', '.lock'), '');
    const files = await fw.exportState(a);
    assert.deepEqual(files.map((f) => [f.name, f.data.toString()]), [['nvram.fd', 'vars'], ['tpm/tpm2-00.permall', 'tpm']]);
    assert.deepEqual(await fw.exportState(ref('c', { qemuId: 3 })), []);
    await mkdir(join(dir, 'inst', 'b'), { recursive: true });
    await fw.importState(b, files, me);
    assert.equal(await readFile(join(dir, 'inst', 'b', 'nvram.fd'), 'utf8'), 'vars');
    assert.equal(await readFile(join(dir, 'inst', 'b', 'tpm', 'tpm2-00.permall'), 'utf8'), 'tpm');
    assert.equal((await stat(join(dir, 'inst', 'b', 'nvram.fd'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'inst', 'b', 'tpm'))).mode & 0o777, 0o700);
    await assert.rejects(fw.importState(b, [{ name: '../../etc/passwd', data: Buffer.from('x') }], me), /not a VM state file name/);
    await assert.rejects(fw.importState(b, [{ name: 'tpm/../x', data: Buffer.from('x') }], me), /not a VM state file name/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
