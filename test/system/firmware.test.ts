// UEFI (OVMF) with Secure Boot, a per-VM NVRAM vars file and an emulated TPM 2.0 (swtpm), on a real
// daemon under TCG. One VM (tiny, direct kernel boot through OVMF's fw_cfg loader) serves every case:
// the guest sees EFI, SecureBoot=1 and a TPM; a variable it writes survives a stop/start; copies and
// backups carry the vars file and TPM state; deleting removes them. Refusals go through the API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon, makeSshKey, processAlive, ssh, sshUntil, systemSkipReason } from './harness.js';

const skip = systemSkipReason();

/** EFI global variable GUID (SecureBoot) and one for the test's own variable. */
const GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const VAR = 'NimboTest-3b8e6d2a-5c1f-4e7a-9d3b-2a6f8c1e4b70';
const EFIVARS = '/sys/firmware/efi/efivars';
/** Mount efivarfs (the tiny initramfs loaded its module) unless it is. */
const MOUNT = `grep -q " ${EFIVARS} " /proc/mounts || mount -t efivarfs efivarfs ${EFIVARS}`;

interface Inst {
  id: string;
  state: string;
  addresses: string[];
  pid: number | null;
  firmware?: { type: string; secureBoot: boolean; tpm: boolean };
}

describe('UEFI, Secure Boot, NVRAM and TPM on a real daemon (TCG)', { skip, timeout: 600_000 }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  let work: string;

  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const instDir = async (name: string) => join(d.stateDir, 'instances', await d.idOf(name));
  const guest = async (addr: string, cmd: string) => {
    const r = await ssh(key.key, addr, cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
  };
  const swtpmPidOf = async (name: string): Promise<number | undefined> => {
    const f = join(await d.runDirOf(name), 'swtpm', 'swtpm.pid');
    const pid = existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : NaN;
    return Number.isInteger(pid) && processAlive(pid) ? pid : undefined;
  };
  const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    work = mkdtempSync(join(tmpdir(), `nimbo-fw-${d.prefix}-`));
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('refused before anything is made: Secure Boot without UEFI, an unknown firmware, firmware on a container', async () => {
    const sb = await d.api('POST', '/instances', { name: 'bad1', image: 'tiny', secureBoot: true });
    assert.equal(sb.status, 400, JSON.stringify(sb.body));
    assert.match(sb.body.error.message, /Secure Boot needs UEFI firmware/);
    const bios = await d.api('POST', '/instances', { name: 'bad1', image: 'tiny', firmware: 'bios', secureBoot: true });
    assert.equal(bios.status, 400);
    const unknown = await d.api('POST', '/instances', { name: 'bad1', image: 'tiny', firmware: 'coreboot' });
    assert.equal(unknown.status, 400);
    const ct = await d.api('POST', '/instances', { name: 'bad1', image: 'tiny', type: 'container', tpm: true });
    assert.equal(ct.status, 400);
    assert.match(ct.body.error.message, /VM options/);
    const cli = await d.cli('launch', 'tiny', 'bad2', '--secure-boot', '--quiet');
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /Secure Boot needs UEFI/);
    assert.equal((await d.api('GET', '/instances/bad1')).status, 404);
    assert.equal((await d.api('GET', '/instances/bad2')).status, 404);
    assert.deepEqual(d.files('instances'), [], 'no instance dir was made');
  });

  test('a UEFI VM with Secure Boot and a TPM: the guest sees EFI, SecureBoot=1 and tpm0; vars file and TPM state are its QEMU uid\'s', async () => {
    await run('launch', 'tiny', 'fw1', '--firmware', 'uefi', '--secure-boot', '--tpm', '--ssh-key', `${key.key}.pub`, '--memory', '256MiB', '--quiet');
    const info = await d.cliJson<Inst>('info', 'fw1');
    assert.deepEqual(info.firmware, { type: 'uefi', secureBoot: true, tpm: true });
    assert.match(await run('info', 'fw1'), /Firmware:\s+UEFI, Secure Boot, TPM 2\.0/);
    const out = await sshUntil(key.key, info.addresses[0]!, 120_000, `ls -d /sys/firmware/efi && ls /sys/class/tpm && ${MOUNT} && od -An -tx1 ${EFIVARS}/SecureBoot-${GLOBAL}`);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^\/sys\/firmware\/efi\ntpm0\n/);
    // Attributes (4 bytes), then the value: 1 = Secure Boot on, as the firmware reports it to the OS.
    assert.match(out.stdout, /06 00 00 00 01\s*$/);
    // A non-volatile variable written by the guest (attributes NV|BS|RT = 7, value "nimbo").
    await guest(info.addresses[0]!, `printf '\\007\\000\\000\\000nimbo' > ${EFIVARS}/${VAR} && cat ${EFIVARS}/${VAR}`);
    const uid = uidOf(info.pid!);
    const vars = statSync(join(await instDir('fw1'), 'nvram.fd'));
    assert.equal(vars.mode & 0o777, 0o600);
    assert.equal(vars.uid, uid, 'the vars file is the VM\'s QEMU uid\'s');
    assert.equal(vars.size, statSync('/usr/share/OVMF/OVMF_VARS_4M.ms.fd').size);
    const tpmPid = await swtpmPidOf('fw1');
    assert.ok(tpmPid, 'swtpm runs');
    assert.equal(uidOf(tpmPid), uid, 'swtpm runs as the VM\'s uid');
    const tpmDir = join(await instDir('fw1'), 'tpm');
    assert.equal(statSync(tpmDir).mode & 0o777, 0o700);
    assert.equal(statSync(tpmDir).uid, uid);
    assert.ok(readdirSync(tpmDir).includes('tpm2-00.permall'), 'the TPM wrote its state');
  });

  test('stopped: swtpm goes with QEMU; the guest\'s variable is in the vars file; copies and backups carry vars and TPM state', async () => {
    await run('stop', 'fw1', '--timeout', '30', '--quiet');
    assert.equal(await swtpmPidOf('fw1'), undefined, 'swtpm stopped with the VM');
    const dir1 = await instDir('fw1');
    const nvram = readFileSync(join(dir1, 'nvram.fd'));
    assert.ok(nvram.includes(Buffer.from('NimboTest', 'utf16le')), 'the variable reached the per-VM vars file');
    assert.ok(!readFileSync('/usr/share/OVMF/OVMF_VARS_4M.ms.fd').includes(Buffer.from('NimboTest', 'utf16le')), 'and not the template');
    const permall = readFileSync(join(dir1, 'tpm', 'tpm2-00.permall'));

    await run('copy', 'fw1', 'fw2', '--quiet');
    const cp = await d.cliJson<Inst>('info', 'fw2');
    assert.deepEqual(cp.firmware, { type: 'uefi', secureBoot: true, tpm: true });
    const dir2 = await instDir('fw2');
    assert.ok(readFileSync(join(dir2, 'nvram.fd')).equals(nvram), 'the copy has the source\'s vars');
    assert.ok(readFileSync(join(dir2, 'tpm', 'tpm2-00.permall')).equals(permall), 'and its TPM state');
    assert.equal(statSync(join(dir2, 'nvram.fd')).mode & 0o777, 0o600);
    assert.notEqual(statSync(join(dir2, 'nvram.fd')).uid, statSync(join(dir1, 'nvram.fd')).uid, 'owned by the copy\'s own uid');

    await run('backup', 'store', 'create', 'bk', '--path', join(work, 'store'));
    const op = await d.cliJson<{ status: string; result: { id: string } }>('backup', 'create', 'fw1', '--store', 'bk');
    assert.equal(op.status, 'success');
    await run('backup', 'restore', op.result.id, '--as', 'fw3', '--quiet');
    const dir3 = await instDir('fw3');
    assert.deepEqual((await d.cliJson<Inst>('info', 'fw3')).firmware, { type: 'uefi', secureBoot: true, tpm: true });
    assert.ok(readFileSync(join(dir3, 'nvram.fd')).equals(nvram), 'the restore has the backed-up vars');
    assert.ok(readFileSync(join(dir3, 'tpm', 'tpm2-00.permall')).equals(permall), 'and TPM state');

    await run('delete', 'fw2', '--quiet');
    await run('delete', 'fw3', '--quiet');
    assert.ok(!existsSync(dir2) && !existsSync(dir3), 'deleting a VM removes its vars file and TPM state');
  });

  test('started again: the variable and the TPM state persisted', async () => {
    const permall = readFileSync(join(await instDir('fw1'), 'tpm', 'tpm2-00.permall'));
    await run('start', 'fw1', '--quiet');
    const info = await d.cliJson<Inst>('info', 'fw1');
    const out = await sshUntil(key.key, info.addresses[0]!, 120_000, `${MOUNT} && cat ${EFIVARS}/${VAR} && ls /sys/class/tpm`);
    const log = out.code === 0 ? '' : (await d.api('GET', '/instances/fw1/console/log?bytes=4000')).body;
    assert.equal(out.code, 0, `${out.stderr}\nconsole:\n${log}`);
    assert.match(out.stdout, /nimbo/);
    assert.match(out.stdout, /tpm0/);
    assert.ok(await swtpmPidOf('fw1'));
    // The TPM's state file of the first boot was used, not made anew: its seeds (the start of the file) are the same.
    const now = readFileSync(join(await instDir('fw1'), 'tpm', 'tpm2-00.permall'));
    assert.ok(now.length > 0 && permall.length > 0);
    assert.ok(now.subarray(0, 256).equals(permall.subarray(0, 256)), 'the TPM state was kept across the restart');
    await run('delete', 'fw1', '--force', '--quiet');
    assert.equal(d.files('instances').length, 0);
  });
});
