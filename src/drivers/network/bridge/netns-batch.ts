// Wiring a container's network namespace in two `ip -batch -` runs, whatever its NIC count:
// one in the host namespace (name the namespace after a process's, make each veth with its
// peer already inside, put the host end on its bridge), one inside it (lo and the peers up,
// addresses and a default route where nimbo sets them). Each `ip` run costs a process start,
// which is most of a container's network set-up time when done one command at a time.
import { validateMac } from '../../../lib/ip.js';
import { invalid } from '../../../lib/errors.js';
import { validateIfName, validateNetnsName } from '../validate.js';
import type { NetnsSetup, VethSpec } from '../types.js';

/** The two batch scripts: `host` for `ip -batch -`, `inner` for `ip -n NETNS -batch -`. */
export interface NetnsBatch {
  host: string;
  inner: string;
}

const CIDR = /^[0-9a-fA-F.:]+\/[0-9]{1,3}$/;
const ADDR = /^[0-9a-fA-F.:]+$/;

/**
 * Render the batches that wire `netns` (pure). Veths listed in `existing` are already there
 * (a retry): they are only put on their bridge and brought up again. Throws InvalidArgument
 * on a bad name, MAC, address or pid, so nothing reaches `ip` that could split a line.
 */
export function renderNetnsBatch(netns: string, veths: VethSpec[], setup: NetnsSetup = {}, existing: ReadonlySet<string> = new Set()): NetnsBatch {
  validateNetnsName(netns);
  const host: string[] = [];
  const inner = ['link set dev lo up'];
  if (setup.attachPid !== undefined) {
    if (!Number.isInteger(setup.attachPid) || setup.attachPid < 1) throw invalid(`process id ${setup.attachPid} is invalid`);
    host.push(`netns attach ${netns} ${setup.attachPid}`);
  }
  for (const v of veths) {
    validateIfName(v.host, 'veth name');
    validateIfName(v.bridge, 'bridge name');
    validateIfName(v.peer, 'veth peer name');
    const mac = validateMac(v.mac);
    if (!existing.has(v.host)) host.push(`link add name ${v.host} type veth peer name ${v.peer} address ${mac} netns ${netns}`);
    host.push(`link set dev ${v.host} master ${v.bridge} up`);
    inner.push(`link set dev ${v.peer} up`);
  }
  for (const a of setup.addresses ?? []) {
    validateIfName(a.dev, 'device name');
    if (!CIDR.test(a.cidr)) throw invalid(`address ${a.cidr} is not an address/prefix`);
    inner.push(`addr replace ${a.cidr} dev ${a.dev}`);
  }
  if (setup.defaultRoute) {
    validateIfName(setup.defaultRoute.dev, 'device name');
    if (!ADDR.test(setup.defaultRoute.via)) throw invalid(`gateway ${setup.defaultRoute.via} is not an address`);
    inner.push(`route replace default via ${setup.defaultRoute.via} dev ${setup.defaultRoute.dev}`);
  }
  return { host: host.length ? `${host.join('\n')}\n` : '', inner: `${inner.join('\n')}\n` };
}
