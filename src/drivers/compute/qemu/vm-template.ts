// A running VM saved as a template: paused, its device + RAM state written with QMP migrate, its root disk
// copied (flattened through its backing chain) at that same instant, then resumed.
import { chmod, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict } from '../../../lib/errors.js';
import type { InstanceSpec, VmTemplateShape } from '../instance-driver.js';
import type { Accelerator, VmSpec } from '../types.js';
import type { QemuDriver } from './driver.js';
import { saveVmState } from './vm-state-file.js';

/** What saveVmTemplate needs from the instance driver. */
export interface TemplateHost {
  qemu: QemuDriver;
  exec: HostExec;
  accelerator: Accelerator;
  vmSpec(spec: InstanceSpec): VmSpec;
}

/** Throws Conflict when the VM's saved state could not be restored by a plain launch (extra devices plugged). */
export function checkTemplateShape(spec: InstanceSpec): void {
  if (spec.volumes.length) throw conflict(`instance ${spec.name} has volumes attached (${spec.volumes.map((v) => v.volume).join(', ')}): detach them first, a template holds only its root disk`);
  const hot = spec.nics.filter((n) => n.hotplug);
  if (hot.length) throw conflict(`instance ${spec.name} has hot-plugged NICs (${hot.map((n) => n.name).join(', ')}): a template's NICs must be its boot NICs`);
}

/** Saves the running VM of `spec` into out.stateFile + out.disk (qcow2), leaving it running as it was. */
export async function saveVmTemplate(h: TemplateHost, spec: InstanceSpec, out: { stateFile: string; disk: string }, progress: (pct: number, msg: string) => void): Promise<VmTemplateShape> {
  checkTemplateShape(spec);
  const vm = h.vmSpec(spec);
  const runDir = resolve(spec.hostIds.runDir);
  const qmp = await h.qemu.qmp(runDir);
  const st = await qmp.execute<{ status: string; running: boolean }>('query-status');
  if (st.status !== 'running' && st.status !== 'paused') throw conflict(`instance ${spec.name} is ${st.status}: a template is saved from a running VM`);
  const gid = (await stat(runDir)).gid;
  progress(20, `pausing ${spec.name}`);
  if (st.running) await qmp.execute('stop');
  let stateBytes = 0;
  try {
    progress(30, 'saving its memory and device state');
    stateBytes = await saveVmState(qmp, runDir, out.stateFile, gid);
    progress(60, 'copying its disk at the same instant');
    // -U: QEMU still has the image open (its writes are flushed and it is paused); read through the backing chain.
    await h.exec.run(['qemu-img', 'convert', '-U', '-f', spec.root.format ?? 'raw', '-O', 'qcow2', '--', spec.root.path, out.disk]);
    await chmod(out.disk, 0o600);
  } catch (e) {
    await rm(out.stateFile, { force: true });
    await rm(out.disk, { force: true });
    throw e;
  } finally {
    // After a migration the source is 'postmigrate': cont re-activates its disks and runs it again.
    if (st.running) await qmp.execute('cont');
  }
  return {
    cpus: vm.cpus,
    memoryBytes: vm.memoryMiB * 1024 ** 2,
    machine: 'q35',
    arch: 'x86_64',
    accelerator: h.accelerator,
    nicMacs: vm.nics.map((n) => n.mac.toLowerCase()),
    stateBytes,
  };
}
