// x86 firmware of a VM: SeaBIOS (QEMU's default, no flags) or UEFI from Debian's ovmf package, Secure
// Boot on or off, and an emulated TPM 2.0 (swtpm) on a CRB interface. Pure: the argv pieces and the
// settings kept per VM; the vars file is nvram.ts's, the swtpm process tpm.ts's.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../../../lib/errors.js';
import type { VmFirmware } from '../types.js';

/** Where Debian's ovmf package puts OVMF. */
export const OVMF_DIR = '/usr/share/OVMF';

/** The firmware settings of one VM, as kept in its driverConfig (defaults left out: a BIOS VM without a TPM has none). */
export interface FirmwareConfig {
  firmware?: 'uefi';
  secureBoot?: true;
  tpm?: true;
}

/** The OVMF code image and vars template for Secure Boot on (SMM build, Microsoft keys enrolled) or off. */
export function ovmfFiles(secureBoot: boolean, dir = OVMF_DIR): { code: string; varsTemplate: string } {
  return secureBoot
    ? { code: join(dir, 'OVMF_CODE_4M.secboot.fd'), varsTemplate: join(dir, 'OVMF_VARS_4M.ms.fd') }
    : { code: join(dir, 'OVMF_CODE_4M.fd'), varsTemplate: join(dir, 'OVMF_VARS_4M.fd') };
}

/** The request's firmware fields (launch body), raw. */
export interface FirmwareRequest {
  firmware?: string;
  secureBoot?: boolean;
  tpm?: boolean;
}

/** What the host has: test seams for the package checks. */
export interface FirmwareHost {
  ovmfDir?: string;
  /** True when the swtpm binary is installed. */
  hasSwtpm(): boolean;
}

/**
 * The settings to keep for a request (InvalidArgument before anything is made: Secure Boot without UEFI,
 * UEFI without the ovmf package, a TPM without swtpm).
 */
export function planFirmware(req: FirmwareRequest, host: FirmwareHost): FirmwareConfig {
  const kind = req.firmware ?? 'bios';
  if (kind !== 'bios' && kind !== 'uefi') throw invalid(`unknown firmware ${JSON.stringify(kind)}: bios or uefi`);
  if (req.secureBoot && kind !== 'uefi') throw invalid('Secure Boot needs UEFI firmware: add --firmware uefi (API: "firmware": "uefi")');
  const out: FirmwareConfig = {};
  if (kind === 'uefi') {
    const f = ovmfFiles(req.secureBoot === true, host.ovmfDir);
    for (const p of [f.code, f.varsTemplate]) {
      if (!existsSync(p)) throw invalid(`UEFI firmware is not installed on this host (${p} is missing): install the Debian package ovmf`);
    }
    out.firmware = 'uefi';
    if (req.secureBoot) out.secureBoot = true;
  }
  if (req.tpm) {
    if (!host.hasSwtpm()) throw invalid('an emulated TPM needs swtpm on this host: install the Debian packages swtpm and swtpm-tools');
    out.tpm = true;
  }
  return out;
}

/** The firmware settings kept in a driverConfig (anything else there is ignored). */
export function firmwareOf(driverConfig: unknown): FirmwareConfig {
  const c = (driverConfig ?? {}) as Record<string, unknown>;
  return {
    ...(c.firmware === 'uefi' ? { firmware: 'uefi' as const } : {}),
    ...(c.firmware === 'uefi' && c.secureBoot === true ? { secureBoot: true as const } : {}),
    ...(c.tpm === true ? { tpm: true as const } : {}),
  };
}

/** How instance views show it. */
export function describeFirmware(c: FirmwareConfig): { type: 'bios' | 'uefi'; secureBoot: boolean; tpm: boolean } {
  return { type: c.firmware ?? 'bios', secureBoot: c.secureBoot === true, tpm: c.tpm === true };
}

/** The -machine value: q35, with UEFI's pflash nodes (and SMM for Secure Boot, which guards the vars store). */
export function machineOpts(fw: VmFirmware | undefined): string {
  if (!fw) return 'q35';
  return `q35,${fw.secureBoot ? 'smm=on,' : ''}pflash0=fw-code,pflash1=fw-vars`;
}

/** QEMU arguments of the firmware: the two pflash block nodes (JSON -blockdev: file names verbatim) and, with Secure Boot, flash writes only from SMM. */
export function firmwareArgs(fw: VmFirmware | undefined): string[] {
  if (!fw) return [];
  const node = (name: string, filename: string, ro: boolean): string[] => [
    '-blockdev', JSON.stringify({ driver: 'file', 'node-name': `${name}-file`, filename, 'read-only': ro }),
    '-blockdev', JSON.stringify({ driver: 'raw', 'node-name': name, file: `${name}-file`, 'read-only': ro }),
  ];
  const args = [...node('fw-code', fw.code, true), ...node('fw-vars', fw.vars, false)];
  if (fw.secureBoot) args.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  return args;
}

/** QEMU arguments of a TPM 2.0 on a CRB interface, backed by the swtpm listening on `socket` (no comma in it: a QemuOpts value). */
export function tpmArgs(socket: string | undefined): string[] {
  if (socket === undefined) return [];
  if (socket.includes(',')) throw invalid(`TPM socket path must not contain a comma: ${socket}`);
  return ['-chardev', `socket,id=chrtpm,path=${socket}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-crb,tpmdev=tpm0'];
}
