// The host side of a VM's firmware for the instance driver: the settings a launch asks for (checked
// against what the host has), the per-VM vars file and swtpm around each run, and the small state files
// (NVRAM, TPM state) that copies, backups and restores carry along with the disks.
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { invalid, NimboError } from '../../../lib/errors.js';
import type { InstanceRef } from '../instance-driver.js';
import type { VmSpec } from '../types.js';
import { firmwareOf, ovmfFiles, planFirmware, type FirmwareConfig, type FirmwareRequest } from './firmware.js';
import { copyNvram, ensureNvram, nvramPath, type FileOwner } from './nvram.js';
import { startSwtpm, stopSwtpm, tpmPaths } from './tpm.js';

/** A small per-VM state file as copies and backups carry it: `nvram.fd` or `tpm/NAME`. */
export interface VmStateFile {
  name: string;
  data: Buffer;
}

const STATE_NAME = /^(nvram\.fd|tpm\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/;
/** Most bytes of one state file (OVMF's 4 MiB vars are 528 KiB; a TPM's state a few KiB). */
const STATE_FILE_MAX = 8 * 1024 * 1024;

/** Options of VmFirmwareHost. */
export interface VmFirmwareOptions {
  exec: HostExec;
  /** Where OVMF is (tests). */
  ovmfDir?: string;
  swtpmBinary?: string;
}

/** Firmware settings, vars files and swtpm processes of VMs. */
export class VmFirmwareHost {
  constructor(private readonly o: VmFirmwareOptions) {}

  /** The settings to keep: a copy's or restore's (`from`, its source's driverConfig) or the request's; refused when the host lacks a package. */
  plan(req: FirmwareRequest, from?: unknown): FirmwareConfig {
    const asked: FirmwareRequest = from !== undefined ? { ...firmwareOf(from) } : req;
    return planFirmware(asked, { ovmfDir: this.o.ovmfDir, hasSwtpm: () => onPath(this.o.swtpmBinary ?? 'swtpm') });
  }

  /** The VmSpec parts of the VM's firmware (pure: paths only). */
  spec(ref: InstanceRef): Pick<VmSpec, 'firmware' | 'tpmSocket'> {
    const c = firmwareOf(ref.driverConfig);
    const out: Pick<VmSpec, 'firmware' | 'tpmSocket'> = {};
    if (c.firmware === 'uefi') {
      const secureBoot = c.secureBoot === true;
      out.firmware = { kind: 'uefi', code: ovmfFiles(secureBoot, this.o.ovmfDir).code, vars: nvramPath(resolve(ref.hostIds.instanceDir)), secureBoot };
    }
    if (c.tpm) out.tpmSocket = this.tpm(ref).socket;
    return out;
  }

  /** Before QEMU starts: the vars file (made from the template once) and the swtpm, both the VM's uid's. */
  async beforeStart(ref: InstanceRef, runAs: string): Promise<void> {
    const c = firmwareOf(ref.driverConfig);
    if (!c.firmware && !c.tpm) return;
    const owner = await this.owner(runAs);
    if (c.firmware === 'uefi') {
      await mkdir(ref.hostIds.instanceDir, { recursive: true, mode: 0o711 });
      await ensureNvram(nvramPath(resolve(ref.hostIds.instanceDir)), ovmfFiles(c.secureBoot === true, this.o.ovmfDir).varsTemplate, owner);
    }
    if (c.tpm) await startSwtpm(this.o.exec, this.tpm(ref), owner, swtpmUser(runAs), { binary: this.o.swtpmBinary });
  }

  /** After QEMU is gone (or failed to start): its swtpm too. */
  async afterStop(ref: InstanceRef): Promise<void> {
    if (firmwareOf(ref.driverConfig).tpm) await stopSwtpm(this.tpm(ref));
  }

  /** The VM's state files (vars file, TPM state), for a copy or a backup; none for a BIOS VM without a TPM. */
  async exportState(ref: InstanceRef): Promise<VmStateFile[]> {
    const c = firmwareOf(ref.driverConfig);
    const out: VmStateFile[] = [];
    const dir = resolve(ref.hostIds.instanceDir);
    if (c.firmware === 'uefi') {
      const data = await readFile(nvramPath(dir)).catch(() => undefined);
      if (data) out.push({ name: 'nvram.fd', data });
    }
    if (c.tpm) {
      const tdir = this.tpm(ref).stateDir;
      for (const f of (await readdir(tdir).catch(() => [])).sort()) {
        if (f.startsWith('.')) continue; // swtpm's .lock
        out.push({ name: `tpm/${f}`, data: await readFile(join(tdir, f)) });
      }
    }
    return out;
  }

  /** Write state files (from exportState of another VM or a backup) into this stopped VM, its uid's, mode 0600. */
  async importState(ref: InstanceRef, files: VmStateFile[], runAs: string): Promise<void> {
    for (const f of files) {
      if (!STATE_NAME.test(f.name)) throw invalid(`not a VM state file name: ${JSON.stringify(f.name)}`);
      if (f.data.length > STATE_FILE_MAX) throw invalid(`VM state file ${f.name} is too big (${f.data.length} bytes)`);
    }
    if (files.length === 0) return;
    const owner = await this.owner(runAs);
    const dir = resolve(ref.hostIds.instanceDir);
    const tdir = this.tpm(ref).stateDir;
    if (files.some((f) => f.name.startsWith('tpm/'))) {
      await rm(tdir, { recursive: true, force: true });
      await mkdir(tdir, { recursive: true, mode: 0o700 });
      await chown(tdir, owner.uid, owner.gid);
    }
    for (const f of files) {
      const to = f.name === 'nvram.fd' ? nvramPath(dir) : join(tdir, f.name.slice(4));
      const tmp = `${to}.tmp`;
      await writeFile(tmp, f.data, { mode: 0o600 });
      await chmod(tmp, 0o600);
      await chown(tmp, owner.uid, owner.gid);
      await rename(tmp, to);
    }
  }

  /** A clone's vars file from its source's (copies only the file; the TPM state goes through export/import). */
  async copyNvram(from: InstanceRef, to: InstanceRef, runAs: string): Promise<boolean> {
    return copyNvram(nvramPath(resolve(from.hostIds.instanceDir)), nvramPath(resolve(to.hostIds.instanceDir)), await this.owner(runAs));
  }

  private tpm(ref: InstanceRef) {
    return tpmPaths(resolve(ref.hostIds.instanceDir), resolve(ref.hostIds.runDir));
  }

  /** The uid/gid of a -runas value: UID:GID as is, a user name through id(1). */
  private async owner(runAs: string): Promise<FileOwner> {
    const m = /^([0-9]+):([0-9]+)$/.exec(runAs);
    if (m) return { uid: Number(m[1]), gid: Number(m[2]) };
    const uid = Number.parseInt((await this.o.exec.run(['id', '-u', '--', runAs])).stdout.trim(), 10);
    const gid = Number.parseInt((await this.o.exec.run(['id', '-g', '--', runAs])).stdout.trim(), 10);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new NimboError('Internal', `cannot resolve user ${runAs}`);
    return { uid, gid };
  }
}

/** swtpm's --runas: a user name, or a numeric uid (swtpm then takes the same number as the gid, as nimbo's per-VM ids are). */
function swtpmUser(runAs: string): string {
  const m = /^([0-9]+):([0-9]+)$/.exec(runAs);
  return m ? m[1]! : runAs;
}

function onPath(binary: string): boolean {
  if (binary.includes('/')) return existsSync(binary);
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, binary)));
}
