/**
 * The nimbo side of bench/backup: a daemon on a temporary state dir (test/system/harness), the bench disk
 * imported as an image, a VM running on it (QEMU with the disk attached; the disk has no boot loader, so
 * the guest never writes to it and the disk changes only where the bench writes), and nimbo's backup CLI.
 * The bench's changes reach the running VM's disk through QEMU's block layer (HMP `qemu-io -d <device>`
 * over QMP), so the VM's dirty bitmaps see them exactly as they see guest writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestDaemon } from '../test/system/harness.js';
import { runArgv } from '../src/host/exec.js';
import { QmpClient } from '../src/drivers/compute/qemu/qmp.js';
import { diskDeviceId, diskNodeNames } from '../src/drivers/compute/qemu/argv.js';
import type { Region } from './backup-data.js';

/** What `nimbo backup create -o json` returns (the fields the bench reads). */
export interface NimboBackup {
  id: string;
  mode: 'full' | 'incremental';
  stats: { bytesRead: number; bytesNew: number; chunksNew: number; chunksReused: number; seconds: number };
}

/** A running nimbo VM on the bench disk, with the daemon that runs it. */
export interface NimboVm {
  d: TestDaemon;
  vm: string;
  image: string;
  /** The VM's root disk file (qcow2), from QEMU. */
  diskFile: string;
}

/** Starts a daemon, imports `raw` as an image and launches VM `bk1` on it with a root disk of `size` bytes. */
export async function nimboStart(raw: string, size: number): Promise<NimboVm> {
  const d = await TestDaemon.start();
  try {
    const vm = 'bk1';
    const image = 'bkdisk';
    await cliOk(d, 'image', 'import', raw, '--name', image, '--quiet');
    await cliOk(d, 'launch', image, vm, '--memory', '256MiB', '--disk', `${size / 1024 / 1024}MiB`, '--quiet');
    return { d, vm, image, diskFile: await rootDiskFile(d, vm) };
  } catch (e) {
    await d.cleanup();
    throw e;
  }
}

/** Whether this build's CLI has `nimbo backup` (the service may not have landed yet). */
export async function nimboHasBackup(d: TestDaemon): Promise<boolean> {
  // commander answers --help of an unknown command with the top-level help (exit 0): look for the option
  const r = await d.cli('backup', 'store', 'create', '--help');
  return r.code === 0 && r.stdout.includes('--passphrase-file');
}

/** Makes datastore `name` in `dir`, encrypted with the passphrase in `passFile`. */
export async function nimboCreateStore(v: NimboVm, name: string, dir: string, passFile: string): Promise<void> {
  await cliOk(v.d, 'backup', 'store', 'create', name, '--path', dir, '--encrypt', '--passphrase-file', passFile);
}

/** Bytes the VM's QEMU process has read through read syscalls so far (/proc/PID/io rchar): its disk reads, the guest being idle. */
export async function qemuReadBytes(v: NimboVm): Promise<number> {
  const info = (await v.d.api('GET', `/instances/${v.vm}`)).body as { pid?: number };
  if (!info.pid) throw new Error(`${v.vm} is not running`);
  const m = /^rchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${info.pid}/io`, 'utf8'));
  if (!m) throw new Error(`no rchar in /proc/${info.pid}/io`);
  return Number(m[1]);
}

/**
 * One backup of the running VM into `store` (`full`: --full); returns the wall time of the CLI call, nimbo's
 * Backup, and what QEMU read meanwhile (an independent check of the Backup's bytesRead).
 */
export async function nimboBackup(v: NimboVm, store: string, full: boolean): Promise<{ seconds: number; backup: NimboBackup; qemuRead: number }> {
  const r0 = await qemuReadBytes(v);
  const t0 = performance.now();
  // -o json prints the finished Operation, whose result is the Backup
  const res = await v.d.cliJson<{ status?: string; result?: NimboBackup; error?: unknown } & Partial<NimboBackup>>('backup', 'create', v.vm, '--store', store, ...(full ? ['--full'] : []));
  const seconds = (performance.now() - t0) / 1000;
  const backup = res.result ?? (res.stats ? (res as NimboBackup) : undefined);
  if (!backup?.stats) throw new Error(`nimbo backup create gave no Backup: ${JSON.stringify(res).slice(0, 500)}`);
  return { seconds, backup, qemuRead: (await qemuReadBytes(v)) - r0 };
}

/** Exports backup `id` of `store` as a raw disk file (downloaded through the API); returns seconds. */
export async function nimboExport(v: NimboVm, store: string, id: string, file: string): Promise<number> {
  const t0 = performance.now();
  await cliOk(v.d, 'backup', 'export', id, file, '--format', 'raw', '--store', store);
  return (performance.now() - t0) / 1000;
}

/** Restores backup `id` of `store` as a new instance `name` (not started); returns seconds. */
export async function nimboRestoreAs(v: NimboVm, store: string, id: string, name: string): Promise<number> {
  const t0 = performance.now();
  await cliOk(v.d, 'backup', 'restore', id, '--as', name, '--store', store, '--quiet');
  return (performance.now() - t0) / 1000;
}

/**
 * Writes each region's file into the running VM's root disk through QEMU's block layer. The daemon holds
 * the VM's only QMP connection, so it is stopped meanwhile (the VM keeps running; the daemon re-adopts it
 * on restart, which also shows that an incremental survives a daemon restart). Returns seconds.
 */
export async function nimboWrite(v: NimboVm, regions: Region[], files: string[]): Promise<number> {
  const runDir = await v.d.runDirOf(v.vm);
  // the virtio-blk-pci proxy has no BlockBackend of its own; its virtio-backend child holds the disk's
  const dev = `/machine/peripheral/${diskDeviceId('root')}/virtio-backend`;
  const t0 = performance.now();
  await v.d.stop('SIGTERM');
  try {
    await withQmp(runDir, async (q) => {
      for (const [i, r] of regions.entries()) {
        const out = await q.execute<string>('human-monitor-command', {
          'command-line': `qemu-io -d ${dev} "write -q -s ${files[i]} ${r.offset} ${r.length}"`,
        });
        if (out.trim() !== '') throw new Error(`qemu-io write at ${r.offset}: ${out.trim()}`);
      }
      const out = await q.execute<string>('human-monitor-command', { 'command-line': `qemu-io -d ${dev} "flush"` });
      if (out.trim() !== '') throw new Error(`qemu-io flush: ${out.trim()}`);
    });
  } finally {
    await v.d.launch();
  }
  return (performance.now() - t0) / 1000;
}

/** Stops the VM and compares its root disk with `raw` (`qemu-img compare`): whether they are identical. */
export async function nimboDiskEquals(v: NimboVm, raw: string): Promise<boolean> {
  await cliOk(v.d, 'stop', v.vm, '--force', '--quiet');
  const r = await runArgv(['qemu-img', 'compare', '-q', '-f', 'raw', '-F', 'qcow2', raw, v.diskFile], { allowFailure: true, timeoutMs: 600_000 });
  if (r.code > 1) throw new Error(`qemu-img compare: ${r.stderr}`);
  return r.code === 0;
}

/** Removes the daemon and all it made (VMs, bridges, taps, state dir). */
export async function nimboCleanup(v: NimboVm | undefined): Promise<void> {
  await v?.d.cleanup();
}

/** The root disk file of a running VM, from the -blockdev of its QEMU argv (the daemon holds the only QMP connection). */
async function rootDiskFile(d: TestDaemon, vm: string): Promise<string> {
  const info = (await d.api('GET', `/instances/${vm}`)).body as { pid?: number };
  if (!info.pid) throw new Error(`${vm} is not running`);
  const argv = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0');
  for (const a of argv) {
    if (!a.startsWith('{') || !a.includes('"driver":"file"')) continue;
    const o = JSON.parse(a) as { 'node-name'?: string; filename?: string };
    if (o['node-name'] === diskNodeNames('root').file && o.filename) return o.filename;
  }
  throw new Error(`no root disk in ${vm}'s QEMU argv`);
}

async function withQmp<T>(runDir: string, fn: (q: QmpClient) => Promise<T>): Promise<T> {
  const q = await QmpClient.connect(join(runDir, 'qmp.sock'), { timeoutMs: 10_000, commandTimeoutMs: 120_000 });
  try {
    return await fn(q);
  } finally {
    q.close();
    await q.waitClosed().catch(() => {});
  }
}

async function cliOk(d: TestDaemon, ...args: string[]): Promise<void> {
  const r = await d.cli(...args);
  if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
}
