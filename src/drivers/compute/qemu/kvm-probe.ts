import { constants as fsc } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import type { Accelerator } from '../types.js';
import { CPU_MODELS, DEFAULT_QEMU_BINARY } from './argv.js';
import { KVM_PROBE_CHUNKS, KVM_PROBE_EXIT, kvmProbeImage } from './kvm-probe-image.js';

/** What the probe decided, and why (shown by `nimbo doctor`, the daemon log, instance info). */
export interface ProbeResult {
  accelerator: Accelerator;
  reason: string;
}

/** Options of probeAccelerator. */
export interface ProbeOptions {
  binary?: string;
  /** Wall-clock budget for the KVM test guest, QEMU start included (default 6000 ms). */
  timeoutMs?: number;
  /** Environment read for NIMBO_ACCEL=kvm|tcg (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The KVM device (default /dev/kvm). */
  kvmDevice?: string;
}

/** How one run of the probe guest ended. */
export interface ProbeRun {
  /** QEMU's exit status; -1 when it was killed at the timeout. */
  code: number;
  /** What the guest wrote to COM1. */
  serial: string;
  stderr: string;
  elapsedMs: number;
  timeoutMs: number;
}

const lastLine = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/warning: host doesn't support requested feature/.test(l) && !/^killed by/.test(l))
    .pop() ?? '';

/** Decide from one probe run whether KVM is usable (pure; the reason says how far the guest got). */
export function interpretProbe(run: ProbeRun): ProbeResult {
  const chunks = (run.serial.match(/\./g) ?? []).length;
  if (run.code === KVM_PROBE_EXIT && run.serial.includes('OK')) {
    return { accelerator: 'kvm', reason: `KVM works: test guest booted through the option ROM into long mode and ran its loop; ${run.elapsedMs} ms in all` };
  }
  const tcg = (why: string): ProbeResult => ({ accelerator: 'tcg', reason: `${why}; using TCG emulation` });
  const timedOut = run.code === -1 || run.elapsedMs >= run.timeoutMs;
  if (!timedOut) {
    const how = run.code === 0 ? 'the guest reset (triple fault)' : `QEMU exited with status ${run.code}`;
    const err = lastLine(run.stderr);
    return tcg(`KVM test guest failed: ${how} after "${run.serial.trim() || 'no output'}"${err ? `: ${err}` : ''}`);
  }
  const within = `within ${run.timeoutMs} ms`;
  if (!run.serial.includes('1')) return tcg(`KVM test guest printed nothing ${within}: hung in the firmware / "Booting from ROM" option ROM`);
  if (!run.serial.includes('2')) return tcg(`KVM test guest reached 32-bit mode but not long mode ${within}`);
  return tcg(
    `KVM test guest runs far too slowly: ${chunks} of ${KVM_PROBE_CHUNKS} work chunks ${within} ` +
      `(a few ms on working KVM; guest code is being emulated, e.g. broken nested virtualization)`,
  );
}

/** The argv of the probe guest under KVM (same machine type and CPU model as real VMs). */
export function probeArgv(binary: string, image: string, serialFile: string): string[] {
  return [
    binary,
    '-machine', 'q35',
    '-accel', 'kvm',
    '-cpu', CPU_MODELS.kvm,
    '-smp', '1',
    '-m', '32M',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-no-reboot',
    '-chardev', `file,id=probe0,path=${serialFile}`,
    '-serial', 'chardev:probe0',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-kernel', image,
  ];
}

async function canOpen(path: string): Promise<string | undefined> {
  try {
    const fh = await open(path, fsc.O_RDWR);
    await fh.close();
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/**
 * Choose KVM or TCG for this host: NIMBO_ACCEL override, /dev/kvm openable, then a tiny
 * guest booted under KVM must finish within the timeout. Takes about 0.2 s on a working
 * KVM host and the full timeout where KVM hangs. The caller caches the result.
 */
export async function probeAccelerator(exec: HostExec, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const env = opts.env ?? process.env;
  const forced = env.NIMBO_ACCEL?.trim().toLowerCase();
  if (forced === 'kvm' || forced === 'tcg') return { accelerator: forced, reason: `forced by NIMBO_ACCEL=${forced}` };
  const ignored = forced ? ` (ignored NIMBO_ACCEL=${JSON.stringify(env.NIMBO_ACCEL)}: not kvm|tcg)` : '';

  const dev = opts.kvmDevice ?? '/dev/kvm';
  const err = await canOpen(dev);
  if (err) return { accelerator: 'tcg', reason: `cannot open ${dev} (${err}); using TCG emulation${ignored}` };

  const timeoutMs = opts.timeoutMs ?? 6000;
  const dir = await mkdtemp(join(tmpdir(), 'nimbo-kvm-probe-'));
  try {
    const image = join(dir, 'probe.bin');
    const serialFile = join(dir, 'serial.out');
    await writeFile(image, kvmProbeImage());
    const started = Date.now();
    let code: number;
    let stderr: string;
    try {
      const res = await exec.run(probeArgv(opts.binary ?? DEFAULT_QEMU_BINARY, image, serialFile), { timeoutMs, allowFailure: true });
      code = res.code;
      stderr = res.stderr;
    } catch (e) {
      return { accelerator: 'tcg', reason: `could not run QEMU for the KVM probe: ${(e as Error).message}; using TCG emulation${ignored}` };
    }
    const elapsedMs = Date.now() - started;
    const serial = await readFile(serialFile, 'latin1').catch(() => '');
    const res = interpretProbe({ code, serial, stderr, elapsedMs, timeoutMs });
    return { accelerator: res.accelerator, reason: res.reason + ignored };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
