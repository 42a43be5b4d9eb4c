// Container network namespaces on the host: named by `ip netns` (/run/netns), veths plugged by
// the network port, tc limits where /sys/class/net shows a shaper left from an earlier run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { ifbNameFor } from '../../network/qos/tc-render.js';
import type { NetnsSetup } from '../../network/types.js';
import type { ContainerNic, NetnsPort } from './ports.js';

/** Where the host's named network namespaces and network devices show. */
export interface NetnsHostPaths {
  netnsDir: string;
  classNet: string;
}
export const HOST_NETNS_PATHS: NetnsHostPaths = { netnsDir: '/run/netns', classNet: '/sys/class/net' };

/** Forget the name of a container's network namespace (the namespace itself ends with the container). */
export async function dropNetns(exec: HostExec, ns: string, paths: NetnsHostPaths = HOST_NETNS_PATHS): Promise<void> {
  if (existsSync(join(paths.netnsDir, ns))) await exec.run(['ip', 'netns', 'del', ns], { allowFailure: true });
}

/**
 * Name the network namespace runc made for the created (not yet started) container whose init is
 * `pid`, and give it one veth per NIC (host end on the network's bridge, MAC as allocated). The
 * namespace must belong to the container's user namespace (so its sysfs shows its own NICs and
 * `runc exec` may join it), which is why runc makes it rather than nimbo.
 */
export async function plumbNetns(
  net: NetnsPort, netns: string, nics: ContainerNic[], pid: number, setup: NetnsSetup = {}, paths: NetnsHostPaths = HOST_NETNS_PATHS,
): Promise<void> {
  await net.plugNetns(netns, nics, { attachPid: pid, ...setup });
  for (const nic of nics) {
    // A new veth has no qdiscs: only limits to set, or an egress shaper left from an earlier run, need tc.
    if (nic.ingressBps || nic.egressBps || existsSync(join(paths.classNet, ifbNameFor(nic.tap)))) await net.applyLimits(nic);
  }
}

/** Give a running container a new NIC: a veth into its namespace, its limits, and (nimbo sets it) its address. */
export async function plugLiveNic(net: NetnsPort, netns: string, nic: ContainerNic): Promise<void> {
  await net.plugNetns(netns, [nic], { addresses: [{ dev: nic.name, cidr: nic.address }] });
  if (nic.ingressBps || nic.egressBps) await net.applyLimits(nic);
}
