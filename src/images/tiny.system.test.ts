// System test: build the tiny image for real, boot it under TCG with user networking on
// loopback and a seed ISO made by our code, wait for the marker, ssh in, power it off.
// Runs only as root with the Debian packages present. Everything it makes is named qh2-*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { RealExec } from '../host/exec.js';
import { buildTinyImage } from './tiny.js';
import { renderSeed } from './seed.js';
import { buildSeedIso } from '../drivers/compute/qemu/seed-iso.js';

const NEEDED = ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-img', '/usr/bin/genisoimage', '/usr/sbin/dropbear',
  '/usr/sbin/mke2fs', '/usr/bin/cpio', '/usr/bin/ssh', '/usr/bin/ssh-keygen'];
const missing = [
  ...NEEDED.filter((p) => !existsSync(p)),
  ...(existsSync('/bin/busybox') ? [] : ['/bin/busybox']),
  ...(existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-')) ? [] : ['/boot/vmlinuz-*']),
];
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Sends QMP commands over the unix socket (capabilities first), ignoring replies. */
async function qmp(sock: string, cmds: string[]): Promise<void> {
  await new Promise<void>((res, rej) => {
    const c = createConnection(sock);
    c.once('error', rej);
    c.once('data', () => {
      for (const cmd of ['qmp_capabilities', ...cmds]) c.write(JSON.stringify({ execute: cmd }) + '\n');
      setTimeout(() => { c.end(); res(); }, 300);
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('tiny image: builds, boots under TCG to NIMBO-READY, serves ssh, powers off on ACPI', { skip, timeout: 240_000 }, async (t) => {
  const exec = new RealExec();
  const dir = await mkdtemp(join(tmpdir(), 'qh2-tiny-'));
  let pid = 0;
  try {
    const t0 = Date.now();
    const img = await buildTinyImage({ exec, outDir: join(dir, 'image') });
    t.diagnostic(`build: ${Date.now() - t0} ms (${img.boot.kind === 'direct' ? img.boot.kernel : ''})`);
    assert.equal(img.readyMarker, 'NIMBO-READY');
    assert.ok(img.boot.kind === 'direct' && existsSync(img.boot.kernel) && img.boot.initrd && existsSync(img.boot.initrd));
    for (const f of ['disk.qcow2', 'vmlinuz', 'initrd.img', 'image.json']) assert.ok(existsSync(join(dir, 'image', f)), f);
    const again = await buildTinyImage({ exec, outDir: join(dir, 'image') });
    assert.deepEqual(again, img, 'a complete outDir is reused');

    await exec.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'qh2-test', '-f', join(dir, 'key')]);
    const mac = '52:54:00:71:68:32';
    const hostname = 'qh2-tiny-vm';
    const files = renderSeed({
      instanceId: `qh2-${process.pid}`, hostname, sshKeys: [await readFile(join(dir, 'key.pub'), 'utf8')],
      // QEMU user networking's fixed addresses: guest 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3.
      nics: [{ mac, address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] }],
      password: 'qh2-secret',
    });
    await buildSeedIso(exec, files, join(dir, 'seed.iso'));
    // A 256 MiB overlay over the 128 MiB image: the guest must grow its root fs at boot.
    await exec.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img.disk, join(dir, 'root.qcow2'), '256M']);

    const port = await freePort();
    const serial = join(dir, 'serial.log');
    const qmpSock = join(dir, 'qmp.sock');
    const b = img.boot;
    assert.ok(b.kind === 'direct');
    const t1 = Date.now();
    await exec.run([
      'qemu-system-x86_64', '-name', `qh2-tiny-${process.pid}`, '-machine', 'q35', '-accel', 'tcg', '-m', '256', '-smp', '1',
      '-nodefaults', '-display', 'none', '-no-user-config',
      '-kernel', b.kernel, '-initrd', b.initrd!, '-append', b.cmdline,
      '-drive', `file=${join(dir, 'root.qcow2')},if=virtio,format=qcow2`,
      '-drive', `file=${join(dir, 'seed.iso')},if=virtio,format=raw,readonly=on`,
      '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`,
      '-device', `virtio-net-pci,netdev=n0,mac=${mac},romfile=`,
      '-serial', `file:${serial}`, '-qmp', `unix:${qmpSock},server=on,wait=off`,
      '-daemonize', '-pidfile', join(dir, 'qemu.pid'),
    ]);
    pid = Number((await readFile(join(dir, 'qemu.pid'), 'utf8')).trim());

    let log = '';
    while (!/^NIMBO-READY /m.test(log) && Date.now() - t1 < 120_000) {
      await sleep(100);
      log = await readFile(serial, 'utf8').catch(() => '');
    }
    const bootMs = Date.now() - t1;
    t.diagnostic(`qemu start → NIMBO-READY: ${bootMs} ms`);
    const markers = log.split(/\r?\n/).filter((l) => l.startsWith('NIMBO-READY'));
    assert.deepEqual(markers, [`NIMBO-READY ${hostname}`], `serial log:\n${log}`);

    const ssh = ['ssh', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', '-i', join(dir, 'key'), '-p', String(port), 'root@127.0.0.1'];
    const res = await exec.run([...ssh, 'hostname; ip -4 -o addr show; df -k /; stat -c %a /root/.ssh/authorized_keys; cut -c1-8 /etc/shadow'], { timeoutMs: 60_000 });
    t.diagnostic(`ssh ok ${Date.now() - t1} ms after start`);
    const lines = res.stdout.split('\n');
    assert.equal(lines[0], hostname);
    assert.match(res.stdout, /inet 10\.0\.2\.15\/24/);
    assert.match(res.stdout, /\n600\n/);
    assert.match(res.stdout, /root:\$6\$/, 'the seed password was set (sha512)');
    const rootKb = Number(/\n\/dev\/vda\s+(\d+)/.exec(res.stdout)?.[1]);
    assert.ok(rootKb > 200 * 1024, `root fs grown to the 256 MiB disk (${rootKb} KiB)`);

    // ACPI power button → busybox acpid → clean poweroff.
    await qmp(qmpSock, ['system_powerdown']);
    const t2 = Date.now();
    while (alive(pid) && Date.now() - t2 < 60_000) await sleep(200);
    assert.equal(alive(pid), false, 'guest powered off on the ACPI power button');
    t.diagnostic(`ACPI poweroff: ${Date.now() - t2} ms`);
  } finally {
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
