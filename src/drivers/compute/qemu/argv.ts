import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { invalid } from '../../../lib/errors.js';
import type { Accelerator, VmDisk, VmNic, VmSpec } from '../types.js';
import { firmwareArgs, machineOpts, tpmArgs } from './firmware.js';
import { runPaths } from './run-paths.js';
import { ARCH_PROFILES, archMachineArgs, archProfile } from './arch.js';
import { isGuestArch } from '../../../shared/arch-types.js';

/** Default QEMU binary for x86_64 guests. */
export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/**
 * CPU model per accelerator. TCG: `max` (everything TCG emulates, no warnings).
 * KVM: `host`/`max` abort on some nested hosts (MSR 0x10a), so we use the portable
 * `qemu64` raised to the x86-64-v2 baseline (RHEL 9-class guests need it); on a host
 * lacking a flag QEMU only warns and drops it.
 */
export const CPU_MODELS: Record<Accelerator, string> = ARCH_PROFILES.x86_64.cpu;

/** Options of renderQemuArgv. */
export interface RenderOptions {
  binary?: string;
  /** Override the CPU model chosen from CPU_MODELS. */
  cpuModel?: string;
  /** Add -S: CPUs stay stopped until QMP `cont` (lets the serial relay attach before boot). */
  paused?: boolean;
}

/*
 * Fixed PCI layout on q35's pcie.0, so a guest sees the same slot for the same NIC
 * (and so the same interface name, e.g. enp0s3) whatever disks are added later:
 *   0x01 VGA, 0x02 virtio-rng, 0x03-0x0a NICs, 0x0b-0x1a disks,
 *   0x1b.0-0x1b.7 hot-plug root ports hotplug0-7 (one multifunction slot),
 *   0x1c virtio-serial (the guest agent channel), 0x1d virtio-balloon, 0x1e free,
 *   0x1f the ICH9 LPC/SATA/SMBus function group of q35 itself.
 */
const SLOT = { vga: 0x01, rng: 0x02, nic0: 0x03, disk0: 0x0b, hotplug: 0x1b, serial: 0x1c } as const;

/** The virtio-serial port name qemu-ga opens in the guest (/dev/virtio-ports/<name>). */
export const GUEST_AGENT_PORT = 'org.qemu.guest_agent.0';
/** Slot 0x1d: the virtio-balloon every VM has. */
const BALLOON_SLOT = 0x1d;
/** qdev id of the virtio-balloon (qom path /machine/peripheral/balloon0: guest-stats). */
export const BALLOON_ID = 'balloon0';
/** DIMM slots a VM with memory hot-add room gets (each live memory grow takes one until the next boot). */
export const MEMORY_SLOTS = 8;
/** Most NICs a VM can have at start (limited by the fixed PCI layout). */
export const MAX_NICS = SLOT.disk0 - SLOT.nic0;
/** Most disks a VM can have at start. */
export const MAX_DISKS = SLOT.hotplug - SLOT.disk0;
/**
 * Empty PCIe root ports left for hot-plugging disks and NICs later (device_add bus=hotplugN):
 * functions 0-7 of slot 0x1b, so one PCI slot holds all eight.
 */
export const HOTPLUG_PORTS = 8;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TAP_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Block node names of a disk (QEMU limits node names to 31 characters). */
export function diskNodeNames(diskId: string): { file: string; format: string } {
  const tag = /^[A-Za-z0-9_-]{1,28}$/.test(diskId)
    ? diskId
    : `h${createHash('sha256').update(diskId).digest('hex').slice(0, 16)}`;
  return { file: `f-${tag}`, format: `d-${tag}` };
}

/** qdev id of a disk's virtio-blk device (for device_del, query-block). */
export const diskDeviceId = (diskId: string): string => `disk-${diskId}`;
/** qdev id of a NIC's virtio-net device. */
export const nicDeviceId = (nicId: string): string => `nic-${nicId}`;
/** netdev id of a NIC's tap backend. */
export const nicNetdevId = (nicId: string): string => `net-${nicId}`;

const hex = (n: number): string => `0x${n.toString(16)}`;
/** QemuOpts values escape a comma by doubling it. */
const optEscape = (s: string): string => s.replace(/,/g, ',,');

function check(ok: boolean, msg: string): void {
  if (!ok) throw invalid(msg);
}

function checkPath(p: string, what: string): void {
  check(isAbsolute(p) && !/[\0\n]/.test(p), `${what} must be an absolute path: ${JSON.stringify(p)}`);
}

/** Throws InvalidArgument unless the NIC's id, tap name and MAC are valid (cold- and hot-plug alike). */
export function validateNic(n: Pick<VmNic, 'id' | 'tap' | 'mac'>): void {
  check(typeof n.id === 'string' && ID_RE.test(n.id), `invalid NIC id: ${JSON.stringify(n.id)}`);
  check(typeof n.tap === 'string' && TAP_RE.test(n.tap), `invalid tap name: ${JSON.stringify(n.tap)}`);
  check(typeof n.mac === 'string' && MAC_RE.test(n.mac), `invalid MAC address: ${JSON.stringify(n.mac)}`);
}

function validate(spec: VmSpec): void {
  check(spec.name.length > 0 && spec.name.length <= 128 && !/[\0\n]/.test(spec.name), 'VM name must be 1-128 characters');
  check(UUID_RE.test(spec.uuid), `invalid VM uuid: ${spec.uuid}`);
  check(Number.isInteger(spec.cpus) && spec.cpus >= 1 && spec.cpus <= 255, 'cpus must be an integer 1-255');
  check(Number.isInteger(spec.memoryMiB) && spec.memoryMiB >= 16, 'memoryMiB must be an integer >= 16');
  if (spec.maxCpus !== undefined) check(Number.isInteger(spec.maxCpus) && spec.maxCpus >= spec.cpus && spec.maxCpus <= 255, 'maxCpus must be an integer from cpus to 255');
  if (spec.maxMemoryMiB !== undefined) check(Number.isInteger(spec.maxMemoryMiB) && spec.maxMemoryMiB >= spec.memoryMiB, 'maxMemoryMiB must be an integer >= memoryMiB');
  check(spec.accelerator === 'kvm' || spec.accelerator === 'tcg', `unknown accelerator: ${String(spec.accelerator)}`);
  check(spec.arch === undefined || isGuestArch(spec.arch), `unknown architecture: ${String(spec.arch)}`);
  if (spec.uefiVars !== undefined) checkPath(spec.uefiVars, 'uefiVars');
  if (spec.boot.kind === 'disk' && archProfile(spec.arch).uefi) check(spec.uefiVars !== undefined, `a ${spec.arch} VM booting from disk needs its UEFI variable store`);
  // runDir ends up inside QemuOpts strings (-qmp, -chardev, -vnc), where a comma is a separator.
  checkPath(spec.runDir, 'runDir');
  check(!spec.runDir.includes(','), 'runDir must not contain a comma');
  check(spec.disks.length <= MAX_DISKS, `at most ${MAX_DISKS} disks`);
  check(spec.nics.length <= MAX_NICS, `at most ${MAX_NICS} NICs`);
  for (const d of spec.disks) {
    check(ID_RE.test(d.id), `invalid disk id: ${JSON.stringify(d.id)}`);
    checkPath(d.path, `disk ${d.id} path`);
    check(d.format === 'qcow2' || d.format === 'raw', `disk ${d.id}: unknown format`);
  }
  for (const n of spec.nics) validateNic(n);
  const unique = (ids: string[]) => new Set(ids).size === ids.length;
  check(unique(spec.disks.map((d) => diskNodeNames(d.id).format)), 'disk ids must be unique');
  check(unique(spec.nics.map((n) => n.id)), 'NIC ids must be unique');
  if (spec.cdrom?.path !== undefined) checkPath(spec.cdrom.path, 'CD-ROM image path');
  if (spec.cdrom) check(spec.boot.kind === 'disk', 'a VM with a CD-ROM drive boots from it or its disk, not from a kernel');
  if (spec.boot.kind === 'direct') {
    checkPath(spec.boot.kernel, 'kernel');
    if (spec.boot.initrd !== undefined) checkPath(spec.boot.initrd, 'initrd');
  } else {
    check(spec.disks.length > 0, 'disk boot needs at least one disk');
  }
  // A user name, or UID:GID (QEMU >= 2.x: a per-VM id without a passwd entry; never root).
  if (spec.firmware) {
    checkPath(spec.firmware.code, 'firmware code');
    checkPath(spec.firmware.vars, 'firmware vars');
  }
  if (spec.tpmSocket !== undefined) checkPath(spec.tpmSocket, 'TPM socket');
  if (spec.runAs !== undefined) check(/^[a-z_][a-z0-9_-]{0,31}$/.test(spec.runAs) || /^[1-9][0-9]{0,9}:[1-9][0-9]{0,9}$/.test(spec.runAs), `invalid runAs user: ${spec.runAs}`);
}

function diskArgs(d: VmDisk, index: number, bootDisk: boolean): string[] {
  const names = diskNodeNames(d.id);
  const ro = d.readOnly === true;
  // JSON -blockdev: no QemuOpts comma escaping, so any file name is passed verbatim.
  const file = { driver: 'file', 'node-name': names.file, filename: d.path, 'read-only': ro, discard: 'unmap' };
  const fmt = { driver: d.format, 'node-name': names.format, file: names.file, 'read-only': ro, discard: 'unmap' };
  const dev = [`virtio-blk-pci`, `drive=${names.format}`, `id=${diskDeviceId(d.id)}`, `bus=pcie.0`, `addr=${hex(SLOT.disk0 + index)}`];
  if (bootDisk) dev.push('bootindex=1');
  return ['-blockdev', JSON.stringify(file), '-blockdev', JSON.stringify(fmt), '-device', dev.join(',')];
}

/** qdev id of the CD-ROM drive (blockdev-open-tray/-insert-medium take it). */
export const CDROM_DEVICE_ID = 'cdrom0';
/** Block node names of the ISO in the CD-ROM drive. */
export const cdromNodeNames = (): { file: string; format: string } => diskNodeNames('cdrom');

/**
 * The CD-ROM drive: ide-cd on port 2 of q35's own ICH9 AHCI controller (00:1f.2: no PCI slot of the fixed
 * layout taken), read-only, bootindex 0 (before the disk's 1), with the ISO in it or empty.
 */
function cdromArgs(cd: { path?: string }): string[] {
  const dev = ['ide-cd', `id=${CDROM_DEVICE_ID}`, 'bus=ide.2', 'bootindex=0'];
  if (cd.path === undefined) return ['-device', dev.join(',')];
  const n = cdromNodeNames();
  const file = { driver: 'file', 'node-name': n.file, filename: cd.path, 'read-only': true };
  const fmt = { driver: 'raw', 'node-name': n.format, file: n.file, 'read-only': true };
  dev.push(`drive=${n.format}`);
  return ['-blockdev', JSON.stringify(file), '-blockdev', JSON.stringify(fmt), '-device', dev.join(',')];
}

function nicArgs(n: VmNic, index: number): string[] {
  const netdev = `tap,id=${nicNetdevId(n.id)},ifname=${n.tap},script=no,downscript=no`;
  // romfile= : no iPXE option ROM (faster boot, no dependency on ipxe-qemu); nimbo boots disks.
  const dev = `virtio-net-pci,netdev=${nicNetdevId(n.id)},id=${nicDeviceId(n.id)},mac=${n.mac.toLowerCase()},bus=pcie.0,addr=${hex(SLOT.nic0 + index)},romfile=`;
  return ['-netdev', netdev, '-device', dev];
}

/**
 * Root port hotplug<i> at function i of the hot-plug slot (function 0 turns multifunction on);
 * chassis (with the default slot 0) and PCIe port number are unique per port.
 */
function hotplugPortArg(i: number): string {
  const mf = i === 0 ? ',multifunction=on' : '';
  return `pcie-root-port,id=hotplug${i},chassis=${i + 1},port=${hex(0x10 + i)},bus=pcie.0,addr=${hex(SLOT.hotplug)}.${i}${mf}`;
}

/** -smp: the boot CPUs, and room for hot-added ones (device_add of the slots query-hotpluggable-cpus lists). */
function smpArg(spec: VmSpec): string {
  return spec.maxCpus !== undefined && spec.maxCpus > spec.cpus ? `${spec.cpus},maxcpus=${spec.maxCpus}` : String(spec.cpus);
}

/** -m: the boot memory, and DIMM slots up to maxmem for hot-added memory (pc-dimm). */
function memoryArg(spec: VmSpec): string {
  const m = `${spec.memoryMiB}M`;
  return spec.maxMemoryMiB !== undefined && spec.maxMemoryMiB > spec.memoryMiB ? `${m},slots=${MEMORY_SLOTS},maxmem=${spec.maxMemoryMiB}M` : m;
}

/**
 * The full qemu-system-* argv for a VM (pure; throws InvalidArgument on a bad spec).
 * Machine: q35 for x86_64, `virt` for the others (arch.ts), each with the same fixed PCIe layout
 * (hot-plug through root ports); QEMU daemonizes once QMP is listening.
 */
export function renderQemuArgv(spec: VmSpec, opts: RenderOptions = {}): string[] {
  validate(spec);
  const p = runPaths(spec.runDir);
  const accel = spec.accelerator === 'kvm' ? 'kvm' : 'tcg,thread=multi';
  const m = archMachineArgs(spec.arch, spec.accelerator, spec.boot, spec.uefiVars);
  const argv: string[] = [
    opts.binary ?? archProfile(spec.arch).binary,
    '-name', `guest=${optEscape(spec.name)},debug-threads=on`,
    '-uuid', spec.uuid.toLowerCase(),
    '-machine', spec.firmware ? machineOpts(spec.firmware) : m.machine,
    '-accel', accel,
    '-cpu', opts.cpuModel ?? m.cpu,
    '-smp', smpArg(spec),
    '-m', memoryArg(spec),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-vga', 'none',
    '-device', `${m.video},id=video0,bus=pcie.0,addr=${hex(SLOT.vga)}`,
    '-vnc', `unix:${p.vnc}`,
    '-qmp', `unix:${p.qmp},server=on,wait=off`,
    '-chardev', `socket,id=serial0,path=${p.serial},server=on,wait=off`,
    '-serial', 'chardev:serial0',
    '-object', 'rng-random,id=rng0,filename=/dev/urandom',
    '-device', `virtio-rng-pci,rng=rng0,id=rng-dev0,bus=pcie.0,addr=${hex(SLOT.rng)}`,
    // Free page reporting: pages the guest frees go back to the host (its RSS shrinks); guest-stats show its own view.
    '-device', `virtio-balloon-pci,id=${BALLOON_ID},bus=pcie.0,addr=${hex(BALLOON_SLOT)},free-page-reporting=on`,
    ...m.firmware,
  ];
  spec.nics.forEach((n, i) => argv.push(...nicArgs(n, i)));
  spec.disks.forEach((d, i) => argv.push(...diskArgs(d, i, spec.boot.kind === 'disk' && i === 0)));
  if (spec.cdrom) argv.push(...cdromArgs(spec.cdrom));
  for (let i = 0; i < HOTPLUG_PORTS; i++) argv.push('-device', hotplugPortArg(i));
  // The guest agent channel, on every VM: harmless when the image has no qemu-ga (nobody opens the port).
  argv.push(
    '-chardev', `socket,id=qga0,path=${p.qga},server=on,wait=off`,
    '-device', `virtio-serial-pci,id=vserial0,bus=pcie.0,addr=${hex(SLOT.serial)}`,
    '-device', `virtserialport,bus=vserial0.0,chardev=qga0,id=qga-port0,name=${GUEST_AGENT_PORT}`,
  );
  argv.push(...firmwareArgs(spec.firmware), ...tpmArgs(spec.tpmSocket));
  if (spec.boot.kind === 'direct') {
    argv.push('-kernel', spec.boot.kernel);
    if (spec.boot.initrd !== undefined) argv.push('-initrd', spec.boot.initrd);
    argv.push('-append', spec.boot.cmdline);
  }
  // -D: after -daemonize QEMU sends its stderr here. No `-d guest_errors`: a guest could flood it.
  argv.push('-D', p.log, '-msg', 'timestamp=on');
  // elevateprivileges/spawn=deny would kill QEMU 7.2 here: -runas and the daemonize fork run after the filter.
  argv.push('-sandbox', 'on,obsolete=deny,resourcecontrol=deny');
  if (spec.runAs !== undefined) argv.push('-runas', spec.runAs);
  if (opts.paused || spec.incoming) argv.push('-S');
  // The saved state comes later (QMP migrate-incoming from an fd QEMU inherited, see vm-state-file.ts), once QMP is up.
  if (spec.incoming) argv.push('-incoming', 'defer');
  argv.push('-daemonize', '-pidfile', p.pid);
  return argv;
}
