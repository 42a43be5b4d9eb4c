// Pinning a VM's QEMU threads to host cores with taskset (sched_setaffinity), as argv built by a pure
// function: every thread first goes to the VM's cpuset (a dedicated slice's cores, or the cores no
// dedicated instance has), then, for a dedicated slice, each vCPU thread to one core of its own.
import { cpusetList } from '../../../lib/cpuset.js';
import type { HostExec } from '../../../host/exec.js';
import type { QmpClient } from './qmp.js';

/** One vCPU as QMP query-cpus-fast reports it. */
export interface VcpuThread {
  'cpu-index': number;
  'thread-id': number;
}

/** The taskset argvs that pin process `pid` (all threads) to `cores`, and with `dedicated` each vCPU to one core. Pure. */
export function pinArgvs(pid: number, cores: number[], vcpus: VcpuThread[], dedicated: boolean): string[][] {
  if (!Number.isInteger(pid) || pid < 1) throw new Error(`bad pid ${pid}`);
  if (!cores.length || cores.some((c) => !Number.isInteger(c) || c < 0)) throw new Error(`bad cores ${JSON.stringify(cores)}`);
  const out = [['taskset', '--all-tasks', '--pid', '--cpu-list', cpusetList(cores), String(pid)]];
  if (!dedicated) return out;
  const sorted = [...cores].sort((a, b) => a - b);
  const byIndex = [...vcpus].sort((a, b) => a['cpu-index'] - b['cpu-index']);
  // Under TCG without MTTCG every vCPU shares one thread: pinning it to one core would starve the others.
  if (new Set(byIndex.map((v) => v['thread-id'])).size < byIndex.length) return out;
  for (const [i, v] of byIndex.entries()) out.push(['taskset', '--pid', '--cpu-list', String(sorted[i % sorted.length]), String(v['thread-id'])]);
  return out;
}

/** Pin a running VM's threads (see pinArgvs). */
export async function pinVm(exec: HostExec, qmp: QmpClient, pid: number, cores: number[], dedicated: boolean): Promise<void> {
  const vcpus = dedicated ? await qmp.execute<VcpuThread[]>('query-cpus-fast') : [];
  for (const argv of pinArgvs(pid, cores, vcpus, dedicated)) await exec.run(argv);
}
