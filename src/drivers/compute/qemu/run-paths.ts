import { join } from 'node:path';

/** The files QEMU and nimbo keep in one VM's runtime dir. */
export interface RunPaths {
  qmp: string;
  serial: string;
  vnc: string;
  /** The guest agent's virtio-serial channel (qemu-ga in the guest; guest-agent.ts on this side). */
  qga: string;
  pid: string;
  /** QEMU's own stderr/log (-D). */
  log: string;
  /** Guest serial output, written by SerialRelay. */
  serialLog: string;
}

/** Paths of the runtime files of the VM whose runtime dir is `runDir`. */
export function runPaths(runDir: string): RunPaths {
  return {
    qmp: join(runDir, 'qmp.sock'),
    serial: join(runDir, 'serial.sock'),
    vnc: join(runDir, 'vnc.sock'),
    qga: join(runDir, 'qga.sock'),
    pid: join(runDir, 'qemu.pid'),
    log: join(runDir, 'qemu.log'),
    serialLog: join(runDir, 'serial.log'),
  };
}
