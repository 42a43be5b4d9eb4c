// Installing from an ISO on a real daemon (TCG): a bootable installer ISO made in the test is uploaded (and a
// data ISO imported) as images of type iso; launch --iso boots it from a CD-ROM drive onto an empty disk; the
// installer writes the disk and powers off; after an eject the VM boots from its disk. Then live insert and
// eject on the running VM (seen in the files QEMU holds open), a restart that keeps the media, and the refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { TestDaemon, sleep, systemSkipReason } from './harness.js';
import { rfbHandshake } from './rfb-client.js';
import { buildDataIso, buildInstallerIso } from './iso-fixture.js';

const skip = systemSkipReason();

interface Img { name: string; type?: string; status: string; format: string }
interface Inst { name: string; state: string; pid: number | null; media?: string; image: string }

/** The files a process holds open. */
function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map((fd) => {
    try {
      return readlinkSync(join(dir, fd));
    } catch {
      return '';
    }
  });
}

describe('ISO installs: upload an installer ISO, launch --iso, install, eject, boot from the disk; live media (TCG)', { skip }, () => {
  let d: TestDaemon;
  let tmp: string;
  let marker: string;
  const isoFile = (image: string) => join(d.stateDir, 'images', image, 'disk.iso');
  const info = (name: string) => d.cliJson<Inst>('info', name);
  const waitState = async (name: string, state: string, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    let cur = '';
    while (Date.now() < end) {
      cur = (await info(name)).state;
      if (cur === state) return;
      await sleep(500);
    }
    throw new Error(`${name} is ${cur}, not ${state}, after ${timeoutMs} ms`);
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'nimbo-isotest-'));
    marker = `INSTALLED-SYSTEM-${Math.random().toString(36).slice(2, 10)}`;
    d = await TestDaemon.start();
  });
  after(async () => {
    await d?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('install from an uploaded ISO onto an empty disk, eject, boot from the disk; live eject/insert; refusals', { timeout: 300_000 }, async () => {
    const installer = await buildInstallerIso(tmp, marker);
    const data = await buildDataIso(tmp);
    // A raw disk image (boot signature) to be refused as an ISO.
    const raw = Buffer.alloc(1024 * 1024);
    raw[510] = 0x55;
    raw[511] = 0xaa;
    writeFileSync(join(tmp, 'disk.raw'), raw);

    // Upload (streamed to the daemon) and import: both known as ISOs by their content.
    const up = await d.cli('image', 'upload', installer, '--name', 'installer');
    assert.equal(up.code, 0, up.stderr);
    const imp = await d.cli('image', 'import', data, '--name', 'datacd');
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal((await d.cli('image', 'import', join(tmp, 'disk.raw'), '--name', 'rawdisk')).code, 0);
    const imgs = await d.cliJson<Img[]>('image', 'list');
    const typeOf = (n: string) => imgs.find((i) => i.name === n)?.type;
    assert.deepEqual([typeOf('installer'), typeOf('datacd'), typeOf('rawdisk')], ['iso', 'iso', 'disk']);
    assert.deepEqual(readFileSync(isoFile('installer')), readFileSync(installer), 'kept byte for byte');
    assert.match((await d.cli('image', 'list')).stdout, /installer\s+ready\s+public\s+iso/);

    // Refusals, before anything is made: an ISO as a disk, a disk as the ISO, a disk image as media.
    const asDisk = await d.cli('launch', 'installer', 'wrong1');
    assert.notEqual(asDisk.code, 0);
    assert.match(asDisk.stderr, /installer is an ISO .*--iso/);
    const asIso = await d.cli('launch', 'rawdisk', 'wrong2', '--iso');
    assert.notEqual(asIso.code, 0);
    assert.match(asIso.stderr, /rawdisk is a disk image, not an ISO/);
    assert.deepEqual((await d.cliJson<Inst[]>('list')).map((i) => i.name), []);
    assert.deepEqual(d.files('pools/default').filter((f) => f.includes('root-')), []);

    // launch --iso: an empty 64 MiB disk, the installer CD booted first; it installs and powers off.
    const t0 = Date.now();
    const l = await d.cli('launch', 'installer', 'inst', '--iso', '--disk', '64MiB', '--memory', '384MiB');
    assert.equal(l.code, 0, l.stderr);
    let vm = await info('inst');
    assert.equal(vm.media, 'installer');
    assert.ok(vm.pid && openFiles(vm.pid).includes(isoFile('installer')), 'QEMU holds the ISO open');
    const cmdline = readFileSync(`/proc/${vm.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes('ide-cd,id=cdrom0,bus=ide.2,bootindex=0,drive=d-cdrom'), cmdline.join(' '));
    assert.ok(!cmdline.some((a) => a.includes('seed.iso')), 'no cloud-init seed');
    // The installer is driven on the VGA console: RFB over the /vnc WebSocket, as noVNC opens it, while it installs.
    const ticket = ((await d.api('POST', '/auth/ticket', { instance: 'inst' })).body as { ticket: string }).ticket;
    const ws = new WebSocket(`${d.url.replace('http', 'ws')}/api/v1/instances/inst/vnc?ticket=${ticket}`, ['binary']);
    await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
    const rfb = await rfbHandshake(ws);
    ws.close();
    assert.ok(rfb.width > 0 && rfb.height > 0, `framebuffer ${rfb.width}x${rfb.height}`);
    await d.waitConsole('inst', /INSTALL-DONE/, 120_000);
    await waitState('inst', 'stopped', 60_000);
    const installSecs = (Date.now() - t0) / 1000;

    // Stopped: the eject only changes what the next start attaches; it now boots from its disk.
    const ej = await d.cli('media', 'eject', 'inst');
    assert.equal(ej.code, 0, ej.stderr);
    assert.equal((await info('inst')).media, '');
    assert.equal((await d.cli('start', 'inst')).code, 0);
    await d.waitConsole('inst', new RegExp(marker), 90_000);
    vm = await info('inst');
    assert.ok(vm.pid && !openFiles(vm.pid).some((f) => f.endsWith('.iso')), 'no ISO in the drive');

    // Live: insert the data CD into the running VM, then eject it; QEMU opens and closes the file.
    const ins = await d.cli('media', 'insert', 'inst', 'datacd');
    assert.equal(ins.code, 0, ins.stderr);
    assert.equal((await info('inst')).media, 'datacd');
    assert.ok(openFiles(vm.pid!).includes(isoFile('datacd')), 'inserted live');
    // In the drive, the ISO cannot be deleted.
    const del = await d.cli('image', 'delete', 'datacd');
    assert.notEqual(del.code, 0);
    assert.match(del.stderr, /used by inst/);
    const ej2 = await d.cli('media', 'eject', 'inst');
    assert.equal(ej2.code, 0, ej2.stderr);
    assert.ok(!openFiles(vm.pid!).includes(isoFile('datacd')), 'ejected live');
    // A disk image is no media; the VM is unchanged.
    const bad = await d.cli('media', 'insert', 'inst', 'rawdisk');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /rawdisk is a disk image, not an ISO/);
    // Media kept across a restart (a new QEMU process opens it at start).
    assert.equal((await d.cli('media', 'insert', 'inst', 'datacd')).code, 0);
    assert.equal((await d.cli('stop', 'inst', '--force')).code, 0);
    assert.equal((await d.cli('start', 'inst')).code, 0);
    vm = await info('inst');
    assert.equal(vm.media, 'datacd');
    assert.ok(vm.pid && openFiles(vm.pid).includes(isoFile('datacd')), 'the media came back with the restart');
    // A VM launched from a disk image has no drive.
    assert.match((await d.api('POST', '/instances/nope/media', { image: 'datacd' })).body?.error?.code ?? '', /NotFound/);

    assert.equal((await d.cli('delete', 'inst', '--force')).code, 0);
    assert.equal((await d.cli('image', 'delete', 'installer')).code, 0, 'the ISO installed from is not in use after its eject');
    console.log(`# install from ISO to power-off: ${installSecs.toFixed(1)} s`);
  });
});
