import type { GuestArch } from '../../shared/arch-types.js';

/** Which CPU virtualization QEMU uses: hardware KVM or TCG emulation. */
export type Accelerator = 'kvm' | 'tcg';

/** One disk given to a VM. The first disk is the boot/root disk. */
export interface VmDisk {
  id: string;
  path: string;
  format: 'qcow2' | 'raw';
  readOnly?: boolean;
}

/** One NIC given to a VM, backed by a tap device nimbo created beforehand. */
export interface VmNic {
  id: string;
  tap: string;
  mac: string;
}

/** How a VM boots: a kernel+initrd given directly, or its own disk through SeaBIOS. */
export type VmBoot =
  | {
      kind: 'direct';
      kernel: string;
      initrd?: string;
      cmdline: string;
      /** A kernel UEFI firmware can load (bzImage with its EFI stub), when `kernel` is one it cannot (a PVH vmlinux). */
      efiKernel?: string;
    }
  | { kind: 'disk' };

/** UEFI firmware of a VM: the read-only code image and the VM's own vars file (pflash 0 and 1). */
export interface VmFirmware {
  kind: 'uefi';
  code: string;
  vars: string;
  secureBoot: boolean;
}

/** Everything the compute driver needs to start one VM. */
export interface VmSpec {
  name: string;
  uuid: string;
  cpus: number;
  memoryMiB: number;
  /** Hot-add room: most CPUs and memory the VM may grow to while it runs (absent or equal: none). */
  maxCpus?: number;
  maxMemoryMiB?: number;
  accelerator: Accelerator;
  boot: VmBoot;
  disks: VmDisk[];
  nics: VmNic[];
  /** A CD-ROM drive (VMs installed from an ISO), booted before the disks; `path`: the ISO in it (absent = empty). */
  cdrom?: { path?: string };
  /** Per-VM runtime dir: qmp.sock, serial.sock, vnc.sock, qemu.pid, serial.log live here. */
  runDir: string;
  /** Who QEMU drops to (-runas): a user name, or UID:GID (nimbo gives each VM its own); omitted only in unit tests. */
  runAs?: string;
  /** UEFI firmware (absent: SeaBIOS, QEMU's default). */
  firmware?: VmFirmware;
  /** The control socket of the VM's swtpm (absent: no TPM). */
  tpmSocket?: string;
  /** Guest CPU architecture (qemu/arch.ts); absent = x86_64. */
  arch?: GuestArch;
  /** The VM's own UEFI variable store (qemu/nvram.ts): needed by a disk boot whose architecture boots through UEFI. */
  uefiVars?: string;
  /** Warm start: restore this saved device + RAM state (QMP migrate) instead of booting; the argv must match the saved VM's. */
  incoming?: { stateFile: string };
}

/** What the host says about a VM process. */
export type RuntimeState = 'running' | 'paused' | 'stopped';

/** A hypervisor driver: starts and controls VM processes that outlive the daemon. */
export interface ComputeDriver {
  /** Start the VM process (daemonized) and return once QMP answers. */
  start(spec: VmSpec): Promise<void>;
  /** ACPI power-down, then a hard stop once timeoutMs has passed. */
  shutdown(runDir: string, timeoutMs: number): Promise<void>;
  /** Hard stop at once. */
  kill(runDir: string): Promise<void>;
  pause(runDir: string): Promise<void>;
  resume(runDir: string): Promise<void>;
  /** The live state, read from the pidfile and QMP (used to re-adopt after a daemon restart). */
  state(runDir: string): Promise<RuntimeState>;
}
