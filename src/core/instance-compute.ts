import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputeDriver, RuntimeState, VmSpec } from '../drivers/compute/types.js';
import { CONTAINER_MARKER } from '../drivers/compute/runc/container-info.js';

export { CONTAINER_MARKER };

/** What the lifecycle code needs of a container runtime, keyed (like VMs) by the instance's run dir. */
export interface ContainerLifecycle {
  state(runDir: string): Promise<RuntimeState>;
  shutdown(runDir: string, timeoutMs: number): Promise<void>;
  kill(runDir: string): Promise<void>;
  pause(runDir: string): Promise<void>;
  resume(runDir: string): Promise<void>;
}

/** True when the run dir belongs to a container. */
export const isContainerRunDir = (runDir: string) => existsSync(join(runDir, CONTAINER_MARKER));

/**
 * One compute front for the lifecycle code: VMs go to QEMU, containers (run dirs holding
 * container.json) to the container runtime. QEMU-only operations are QemuInstanceOps'.
 */
export class InstanceCompute implements ComputeDriver {
  constructor(private vm: ComputeDriver, private ct: ContainerLifecycle) {}

  start(spec: VmSpec): Promise<void> {
    return this.vm.start(spec);
  }
  shutdown(runDir: string, timeoutMs: number): Promise<void> {
    return isContainerRunDir(runDir) ? this.ct.shutdown(runDir, timeoutMs) : this.vm.shutdown(runDir, timeoutMs);
  }
  kill(runDir: string): Promise<void> {
    return isContainerRunDir(runDir) ? this.ct.kill(runDir) : this.vm.kill(runDir);
  }
  pause(runDir: string): Promise<void> {
    return isContainerRunDir(runDir) ? this.ct.pause(runDir) : this.vm.pause(runDir);
  }
  resume(runDir: string): Promise<void> {
    return isContainerRunDir(runDir) ? this.ct.resume(runDir) : this.vm.resume(runDir);
  }
  state(runDir: string): Promise<RuntimeState> {
    return isContainerRunDir(runDir) ? this.ct.state(runDir) : this.vm.state(runDir);
  }
}
