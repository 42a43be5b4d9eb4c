import { conflict } from '../../../lib/errors.js';
import { parseIpv4 } from '../../../lib/ip.js';
import type { Fragment } from './ruleset.js';
import { validateFloatingIp, validateGuestSubnets, validatePortForward, type FloatingIp, type PortForward } from './fwd-model.js';

// Port forwards and floating IPs as the `fwd_` part of the daemon's `table inet` (see ruleset.ts).
// Reference: nft(8) "Maps", "Concatenations", "NAT statements". Lookups are named maps (hash), not one rule per
// forward, so the cost per packet does not grow with the number of forwards.
//
// Integrator notes (also in the report):
// - DNAT of locally generated traffic (the `output` chain) whose destination was 127.0.0.1 leaves the host with
//   source 127.0.0.1 on a non-loopback device; the kernel drops that as martian unless
//   `net.ipv4.conf.<bridge>.route_localnet=1` (or `.all.`) is set. The postrouting masquerade below then
//   rewrites the 127.0.0.0/8 source to the bridge address so the guest can answer. route_localnet also lets
//   guests address the host's loopback: nft-nat.ts's net_loopback_guard drops that (priority raw, before NAT).
// - This table only translates. A filter chain elsewhere that drops traffic entering a guest network
//   (nft-nat.ts does `oifname BRIDGE drop`) must accept `ct status dnat` first, or forwards are dropped.

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byIp = (a: string, b: string) => parseIpv4(a) - parseIpv4(b);

/** Options that need knowledge of the networks (not of single forwards). */
export interface ForwardRenderOptions {
  /**
   * CIDR blocks of nimbo guest networks. Connections DNATed from one guest address to another (hairpin) are
   * masqueraded so replies come back through the host; floating-IP SNAT is skipped toward these blocks.
   */
  guestSubnets?: string[];
}

interface MapEntry {
  key: string;
  value: string;
  sortKey: [number, number];
}

/** Render the forward/floating-IP part of the ruleset. Throws InvalidArgument on bad input and Conflict on clashes. */
export function renderForwardFragment(forwards: PortForward[], floatingIps: FloatingIp[], opts: ForwardRenderOptions = {}): Fragment {
  const fwds = forwards.map(validatePortForward);
  const floats = floatingIps.map(validateFloatingIp);
  const subnets = [...new Set(validateGuestSubnets(opts.guestSubnets ?? []))].sort((a, b) => byIp(a.split('/')[0]!, b.split('/')[0]!));

  const elems: Record<'tcp' | 'udp', MapEntry[]> = { tcp: [], udp: [] };
  const seen = new Map<string, string>();
  const floatByAddr = new Map<string, string>();
  const floatByTarget = new Map<string, string>();
  for (const fl of floats) {
    const a = floatByAddr.get(fl.address);
    if (a !== undefined) throw conflict(`floating IP ${fl.address} is mapped twice (to ${a} and ${fl.targetAddress})`);
    const t = floatByTarget.get(fl.targetAddress);
    if (t !== undefined) throw conflict(`${fl.targetAddress} has two floating IPs (${t} and ${fl.address})`);
    floatByAddr.set(fl.address, fl.targetAddress);
    floatByTarget.set(fl.targetAddress, fl.address);
  }
  for (const f of fwds) {
    if (floatByAddr.has(f.hostAddress)) throw conflict(`port forward on ${f.hostAddress} clashes with the floating IP ${f.hostAddress}`);
    for (let i = 0; i <= f.hostPortEnd - f.hostPort; i++) {
      const id = `${f.protocol} ${f.hostAddress}:${f.hostPort + i}`;
      if (seen.has(id)) throw conflict(`${id} is forwarded twice`);
      seen.set(id, f.targetAddress);
      elems[f.protocol].push({
        key: `${f.hostAddress} . ${f.hostPort + i}`,
        value: `${f.targetAddress} . ${f.targetPort + i}`,
        sortKey: [parseIpv4(f.hostAddress), f.hostPort + i],
      });
    }
  }
  const sortEntries = (xs: MapEntry[]) => xs.sort((a, b) => a.sortKey[0] - b.sortKey[0] || a.sortKey[1] - b.sortKey[1]);
  const elements = (items: string[]) => (items.length === 0 ? [] : [`\t\telements = { ${items.join(',\n\t\t\t     ')} }`]);
  const map = (name: string, type: string, items: string[]) => [`\tmap ${name} {`, `\t\ttype ${type}`, ...elements(items), '\t}'];
  const pair = 'ipv4_addr . inet_service : ipv4_addr . inet_service';
  const floatIn = [...floats].sort((a, b) => byIp(a.address, b.address)).map((f) => `${f.address} : ${f.targetAddress}`);
  const floatOut = [...floats].sort((a, b) => byIp(a.targetAddress, b.targetAddress)).map((f) => `${f.targetAddress} : ${f.address}`);
  const dnat = [
    'meta nfproto ipv4 dnat ip to ip daddr . tcp dport map @fwd_tcp',
    'meta nfproto ipv4 dnat ip to ip daddr . udp dport map @fwd_udp',
    'meta nfproto ipv4 dnat ip to ip daddr map @fwd_floating_in',
  ];
  const chain = (name: string, head: string, rules: string[]) => [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((r) => `\t\t${r}`), '\t}'];
  const inet = [
    ...map('fwd_tcp', pair, sortEntries(elems.tcp).map((e) => `${e.key} : ${e.value}`)),
    ...map('fwd_udp', pair, sortEntries(elems.udp).map((e) => `${e.key} : ${e.value}`)),
    ...map('fwd_floating_in', 'ipv4_addr : ipv4_addr', floatIn),
    ...map('fwd_floating_out', 'ipv4_addr : ipv4_addr', floatOut),
    '\tset fwd_guest_nets {',
    '\t\ttype ipv4_addr',
    '\t\tflags interval',
    ...elements(subnets),
    '\t}',
    // A loopback forward serves the host's own connections (fwd_output). A packet that arrives from anywhere
    // addressed to 127/8 is never translated: the kernel then drops it as martian, and net_loopback_guard
    // drops it first on nimbo bridges (which carry route_localnet=1).
    ...chain('fwd_prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['ip daddr 127.0.0.0/8 return', ...dnat]),
    // Connections from the host itself (to 127.0.0.1 or a host address) never pass prerouting.
    ...chain('fwd_output', 'type nat hook output priority -100; policy accept;', dnat),
    ...chain('fwd_postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
      // Host-originated connections to 127.0.0.1 DNATed to a guest: needs route_localnet, see above.
      'ct status dnat ip saddr 127.0.0.0/8 masquerade',
      // Hairpin: a guest reaching a forward or floating IP that lands on a guest; replies must return via the host.
      'ct status dnat ip saddr @fwd_guest_nets ip daddr @fwd_guest_nets masquerade',
      'meta nfproto ipv4 ip daddr != @fwd_guest_nets snat ip to ip saddr map @fwd_floating_out',
    ]),
  ];
  return { inet, bridge: [] };
}
