import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderQemuArgv } from './argv.js';
import { describeFirmware, firmwareOf, machineOpts, planFirmware } from './firmware.js';
import { copyNvram, ensureNvram, nvramPath } from './nvram.js';
import { swtpmArgv, tpmPaths } from './tpm.js';
import type { VmSpec } from '../types.js';

const spec: VmSpec = {
  name: 'w', uuid: '6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b', cpus: 1, memoryMiB: 256, runDir: '/run/nimbo/vms/w', accelerator: 'tcg',
  boot: { kind: 'direct', kernel: '/k', cmdline: 'console=ttyS0' }, disks: [], nics: [],
};

/** The values following each occurrence of flag `f`. */
const after = (argv: string[], f: string) => argv.flatMap((a, i) => (a === f ? [argv[i + 1]!] : []));

test('argv: BIOS adds nothing; UEFI adds pflash nodes; Secure Boot adds SMM and the secure flash; a TPM adds the CRB device', () => {
  const bios = renderQemuArgv(spec);
  assert.deepEqual(after(bios, '-machine'), ['q35']);
  assert.ok(!bios.some((a) => /pflash|tpm/.test(a)));
  const fw = { kind: 'uefi' as const, code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/var/lib/nimbo/instances/x,y/nvram.fd', secureBoot: false };
  const uefi = renderQemuArgv({ ...spec, firmware: fw });
  assert.deepEqual(after(uefi, '-machine'), ['q35,pflash0=fw-code,pflash1=fw-vars']);
  const nodes = after(uefi, '-blockdev').map((j) => JSON.parse(j) as Record<string, unknown>);
  assert.deepEqual(nodes, [
    { driver: 'file', 'node-name': 'fw-code-file', filename: fw.code, 'read-only': true },
    { driver: 'raw', 'node-name': 'fw-code', file: 'fw-code-file', 'read-only': true },
    { driver: 'file', 'node-name': 'fw-vars-file', filename: fw.vars, 'read-only': false }, // a comma in a path stays verbatim in JSON
    { driver: 'raw', 'node-name': 'fw-vars', file: 'fw-vars-file', 'read-only': false },
  ]);
  assert.ok(!uefi.includes('-global'));
  const sb = renderQemuArgv({ ...spec, firmware: { ...fw, secureBoot: true }, tpmSocket: '/run/nimbo/vms/w/swtpm/swtpm.sock' });
  assert.deepEqual(after(sb, '-machine'), ['q35,smm=on,pflash0=fw-code,pflash1=fw-vars']);
  assert.deepEqual(after(sb, '-global'), ['driver=cfi.pflash01,property=secure,value=on']);
  assert.deepEqual(after(sb, '-tpmdev'), ['emulator,id=tpm0,chardev=chrtpm']);
  assert.ok(after(sb, '-chardev').includes('socket,id=chrtpm,path=/run/nimbo/vms/w/swtpm/swtpm.sock'));
  assert.ok(after(sb, '-device').includes('tpm-crb,tpmdev=tpm0'));
  assert.throws(() => renderQemuArgv({ ...spec, firmware: { ...fw, code: 'relative.fd' } }), /absolute path/);
  assert.equal(machineOpts(undefined), 'q35');
});

test('planFirmware: defaults, refusals naming the Debian packages, and what is kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ovmf-'));
  try {
    const host = { ovmfDir: dir, hasSwtpm: () => false };
    assert.deepEqual(planFirmware({}, host), {});
    assert.deepEqual(planFirmware({ firmware: 'bios' }, host), {});
    assert.throws(() => planFirmware({ secureBoot: true }, host), /Secure Boot needs UEFI/);
    assert.throws(() => planFirmware({ firmware: 'bios', secureBoot: true }, host), /Secure Boot needs UEFI/);
    assert.throws(() => planFirmware({ firmware: 'efi' }, host), /unknown firmware/);
    assert.throws(() => planFirmware({ firmware: 'uefi' }, host), /Debian package ovmf/);
    assert.throws(() => planFirmware({ tpm: true }, host), /swtpm and swtpm-tools/);
    for (const f of ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd']) await writeFile(join(dir, f), 'x');
    assert.deepEqual(planFirmware({ firmware: 'uefi' }, host), { firmware: 'uefi' });
    assert.throws(() => planFirmware({ firmware: 'uefi', secureBoot: true }, host), /OVMF_CODE_4M\.secboot\.fd is missing/);
    for (const f of ['OVMF_CODE_4M.secboot.fd', 'OVMF_VARS_4M.ms.fd']) await writeFile(join(dir, f), 'x');
    const all = planFirmware({ firmware: 'uefi', secureBoot: true, tpm: true }, { ...host, hasSwtpm: () => true });
    assert.deepEqual(all, { firmware: 'uefi', secureBoot: true, tpm: true });
    // Kept in a driverConfig beside the driver's ids; read back without them.
    assert.deepEqual(firmwareOf({ qemuId: 40001, ...all }), all);
    assert.deepEqual(firmwareOf({ qemuId: 40001 }), {});
    assert.deepEqual(firmwareOf(undefined), {});
    assert.deepEqual(firmwareOf({ secureBoot: true }), {}, 'Secure Boot without UEFI is never read back');
    assert.deepEqual(describeFirmware({}), { type: 'bios', secureBoot: false, tpm: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('nvram: made from the template once, 0600, kept afterwards; a clone copies it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nvram-'));
  try {
    const tpl = join(dir, 'VARS.fd');
    await writeFile(tpl, Buffer.alloc(4096, 1));
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await mkdir(a);
    await mkdir(b);
    assert.equal(await ensureNvram(nvramPath(a), tpl), true);
    const st = await stat(nvramPath(a));
    assert.equal(st.mode & 0o777, 0o600);
    await writeFile(nvramPath(a), Buffer.alloc(4096, 7)); // the guest wrote a variable
    assert.equal(await ensureNvram(nvramPath(a), tpl), false);
    assert.equal((await readFile(nvramPath(a)))[0], 7, 'an existing vars file is the guest\'s: never replaced');
    assert.equal(await copyNvram(nvramPath(b), join(dir, 'c.fd')), false, 'no source file: nothing to copy');
    assert.equal(await copyNvram(nvramPath(a), nvramPath(b)), true);
    assert.equal((await readFile(nvramPath(b)))[0], 7);
    assert.equal((await stat(nvramPath(b))).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('swtpm argv: TPM 2.0, state dir and control socket per VM, the VM\'s uid, ends with QEMU', () => {
  const p = tpmPaths('/var/lib/nimbo/instances/u', '/run/nimbo/vms/u');
  assert.deepEqual(swtpmArgv(p, '40001'), [
    'swtpm', 'socket', '--tpm2',
    '--tpmstate', 'dir=/var/lib/nimbo/instances/u/tpm,mode=0600',
    '--ctrl', 'type=unixio,path=/run/nimbo/vms/u/swtpm/swtpm.sock,mode=0600',
    '--pid', 'file=/run/nimbo/vms/u/swtpm/swtpm.pid',
    '--log', 'file=/run/nimbo/vms/u/swtpm/swtpm.log,level=1',
    '--runas', '40001', '--terminate', '--daemon',
  ]);
  assert.throws(() => swtpmArgv(tpmPaths('/a,b', '/r'), '1'), /comma/);
});
