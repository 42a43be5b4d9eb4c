import { invalid } from '../../lib/errors.js';
import { formatIpv4, parseIpv4 } from '../../lib/ip.js';
import { validateIfName } from './ifname.js';
import type { Fragment } from './firewall/ruleset.js';
import type { MetadataEndpoint } from './types.js';


// The metadata service's part of the daemon's ruleset (chains prefixed md_). A guest asks
// http://169.254.169.254/; nimbod serves each instance NIC on a port of its own on the network's gateway
// address. So, per NIC: a request from bridge B with source address A (the NIC's allocated address) to
// 169.254.169.254:80 is DNATed to GATEWAY:PORT, and net_input (nft-nat.ts) accepts exactly that
// (bridge, source, gateway, port) after a DNAT. The source address is trustworthy because the
// security-group part drops, per tap in the bridge family, frames whose IPv4 source is not the tap's
// own (sg-render-bridge.ts); the inet hooks see the bridge, not the tap, so the address is what tells
// NICs of one bridge apart. nimbod then answers a request on PORT only with the owner of PORT, and only
// when the peer address is that NIC's address. Anything else toward 169.254.0.0/16 from a nimbo
// bridge is dropped before it can be routed out (a provider's own metadata service upstream, say).
// Frames from a VXLAN port are anti-spoofed by the host their guest runs on, not here: every host of an
// overlay must run nimbo's firewall for the source address to mean the NIC.

/** The address guests ask (EC2's and OpenStack's link-local metadata address). */
export const METADATA_ADDRESS = '169.254.169.254';

const q = (s: string) => `"${s}"`;

/** Checks and normalizes endpoints; InvalidArgument on a bad name, address or port, or two NICs sharing a port or address. */
export function validateEndpoints(eps: MetadataEndpoint[]): MetadataEndpoint[] {
  const ports = new Set<number>();
  const sources = new Set<string>();
  return eps.map((e) => {
    validateIfName(e.bridge, 'bridge name');
    const address = formatIpv4(parseIpv4(e.address));
    const gateway = formatIpv4(parseIpv4(e.gateway));
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw invalid(`invalid metadata port ${e.port}`);
    if (ports.has(e.port)) throw invalid(`metadata port ${e.port} is given to two NICs`);
    const src = `${e.bridge}/${address}`;
    if (sources.has(src)) throw invalid(`two metadata endpoints for ${address} on ${e.bridge}`);
    ports.add(e.port);
    sources.add(src);
    return { bridge: e.bridge, address, gateway, port: e.port };
  });
}

const byPort = (a: MetadataEndpoint, b: MetadataEndpoint) => a.port - b.port;

/** The net_input rule that lets each NIC's DNATed request reach its own port on its gateway (none: no lines). */
export function metadataInputRules(eps: MetadataEndpoint[]): string[] {
  const v = validateEndpoints(eps).sort(byPort);
  if (v.length === 0) return [];
  const elems = v.map((e) => `${q(e.bridge)} . ${e.address} . ${e.gateway} . ${e.port}`);
  return [`ct status dnat iifname . ip saddr . ip daddr . tcp dport { ${elems.join(', ')} } accept`];
}

/** The md_ fragment: one DNAT per NIC, and no way from a nimbo bridge to 169.254.0.0/16 beyond the host. Pure. */
export function renderMetadataFragment(eps: MetadataEndpoint[], bridges: string[]): Fragment {
  const v = validateEndpoints(eps).sort(byPort);
  const brs = [...new Set(bridges.map((b) => validateIfName(b, 'bridge name')))].sort();
  if (brs.length === 0) return { inet: [], bridge: [] };
  const dnat = v.map((e) => `iifname ${q(e.bridge)} ip saddr ${e.address} ip daddr ${METADATA_ADDRESS} tcp dport 80 dnat ip to ${e.gateway}:${e.port}`);
  const set = brs.length === 1 ? q(brs[0]!) : `{ ${brs.map(q).join(', ')} }`;
  return {
    inet: [
      '\tchain md_prerouting {',
      '\t\ttype nat hook prerouting priority dstnat - 10; policy accept;',
      ...dnat.map((r) => `\t\t${r}`),
      '\t}',
      '\tchain md_forward {',
      '\t\ttype filter hook forward priority filter - 10; policy accept;',
      `\t\tiifname ${set} ip daddr 169.254.0.0/16 drop`,
      '\t}',
    ],
    bridge: [],
  };
}
