import { conflict, invalid } from '../../../lib/errors.js';
import { formatIpv4, parseIpv4, validateCidr } from '../../../lib/ip.js';

// Port forwards and floating IPs as plain data: validation and a pure conflict check.
// Rendering to nft lives in fwd-render.ts; nothing here touches the host.

/** Transport protocol of a port forward. */
export type ForwardProtocol = 'tcp' | 'udp';

/** Host address:port (or an equal-length port range) forwarded to an instance address:port. */
export interface PortForward {
  protocol: ForwardProtocol;
  /** A concrete host IPv4 address (127.0.0.1 included); 0.0.0.0 is refused, list each address. */
  hostAddress: string;
  hostPort: number;
  /** Last port of a host range (inclusive); the target range has the same length. */
  hostPortEnd?: number;
  /** The instance's address (its NIC's allocated address). */
  targetAddress: string;
  /** First target port; hostPort + i goes to targetPort + i. */
  targetPort: number;
  /** Free text shown to users; never rendered into the ruleset. */
  description?: string;
}

/** An extra host address mapped 1:1 to an instance address: DNAT in, SNAT out. */
export interface FloatingIp {
  /** The public/extra host address (the host must own it, or answer ARP for it). */
  address: string;
  /** The instance's address. */
  targetAddress: string;
  description?: string;
}

/** Most ports one forward may span (each becomes one map element). */
export const MAX_FORWARD_RANGE = 4096;

function validPort(p: unknown, what: string): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw invalid(`${what} ${String(p)} is not a port number 1-65535`);
  return p;
}

/** Parse and re-format an IPv4 address; refuse 0.0.0.0, multicast, reserved and broadcast addresses. */
function unicastIpv4(text: string, what: string, allowLoopback: boolean): string {
  const n = parseIpv4(text);
  const first = n >>> 24;
  if (n === 0 || first === 0) throw invalid(`${what} "${text}" is not usable: list a concrete address instead of 0.0.0.0/8`);
  if (first >= 224) throw invalid(`${what} "${text}" is a multicast, reserved or broadcast address`);
  if (first === 127 && !allowLoopback) throw invalid(`${what} "${text}" is a loopback address`);
  return formatIpv4(n);
}

/** Validate a port forward and return it normalized (hostPortEnd always set). */
export function validatePortForward(f: PortForward): Required<Omit<PortForward, 'description'>> & { description?: string } {
  if (f === null || typeof f !== 'object') throw invalid('port forward must be an object');
  if (f.protocol !== 'tcp' && f.protocol !== 'udp') throw invalid(`port forward protocol "${String(f.protocol)}" must be "tcp" or "udp"`);
  const hostAddress = unicastIpv4(f.hostAddress, 'port forward host address', true);
  const targetAddress = unicastIpv4(f.targetAddress, 'port forward target address', false);
  const hostPort = validPort(f.hostPort, 'port forward host port');
  const hostPortEnd = f.hostPortEnd === undefined ? hostPort : validPort(f.hostPortEnd, 'port forward host port range end');
  if (hostPortEnd < hostPort) throw invalid(`port forward host port range ${hostPort}-${hostPortEnd} ends before it starts`);
  const len = hostPortEnd - hostPort + 1;
  if (len > MAX_FORWARD_RANGE) throw invalid(`port forward range ${hostPort}-${hostPortEnd} spans ${len} ports; at most ${MAX_FORWARD_RANGE}`);
  const targetPort = validPort(f.targetPort, 'port forward target port');
  if (targetPort + len - 1 > 65535) {
    throw invalid(`port forward target range ${targetPort}-${targetPort + len - 1} goes past 65535 (it must be as long as the host range)`);
  }
  if (f.description !== undefined && typeof f.description !== 'string') throw invalid('port forward description must be a string');
  return { protocol: f.protocol, hostAddress, hostPort, hostPortEnd, targetAddress, targetPort, ...(f.description !== undefined ? { description: f.description } : {}) };
}

/** Validate a floating IP and return it normalized. */
export function validateFloatingIp(f: FloatingIp): FloatingIp {
  if (f === null || typeof f !== 'object') throw invalid('floating IP must be an object');
  const address = unicastIpv4(f.address, 'floating IP address', false);
  const targetAddress = unicastIpv4(f.targetAddress, 'floating IP target address', false);
  if (address === targetAddress) throw invalid(`floating IP ${address} cannot map to itself`);
  if (f.description !== undefined && typeof f.description !== 'string') throw invalid('floating IP description must be a string');
  return { address, targetAddress, ...(f.description !== undefined ? { description: f.description } : {}) };
}

/** Validate the guest subnets used for hairpin masquerade and floating-IP SNAT exclusion. */
export function validateGuestSubnets(subnets: string[]): string[] {
  if (!Array.isArray(subnets)) throw invalid('guest subnets must be a list of CIDR blocks');
  return subnets.map((s) => validateCidr(s));
}

/** Everything already configured on this host (all networks, one daemon). */
export interface ForwardState {
  forwards: PortForward[];
  floatingIps: FloatingIp[];
}

const isForward = (c: PortForward | FloatingIp): c is PortForward => 'hostPort' in c;
const fmtRange = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);

/**
 * Pure conflict check: messages (empty when none) for a candidate forward or floating IP against the
 * existing ones. Both sides are validated first (InvalidArgument on bad input).
 */
export function findForwardConflicts(existing: ForwardState, candidate: PortForward | FloatingIp): string[] {
  const out: string[] = [];
  const forwards = existing.forwards.map(validatePortForward);
  const floats = existing.floatingIps.map(validateFloatingIp);
  if (isForward(candidate)) {
    const c = validatePortForward(candidate);
    for (const f of forwards) {
      if (f.protocol !== c.protocol || f.hostAddress !== c.hostAddress) continue;
      if (f.hostPort <= c.hostPortEnd && c.hostPort <= f.hostPortEnd) {
        out.push(
          `${c.protocol} ${c.hostAddress}:${fmtRange(c.hostPort, c.hostPortEnd)} overlaps the forward ${f.hostAddress}:${fmtRange(f.hostPort, f.hostPortEnd)} -> ${f.targetAddress}:${fmtRange(f.targetPort, f.targetPort + f.hostPortEnd - f.hostPort)}`,
        );
      }
    }
    for (const fl of floats) {
      if (fl.address === c.hostAddress) out.push(`${c.hostAddress} is the floating IP of ${fl.targetAddress}; all its ports already go there`);
    }
  } else {
    const c = validateFloatingIp(candidate);
    for (const fl of floats) {
      if (fl.address === c.address) out.push(`floating IP ${c.address} is already mapped to ${fl.targetAddress}`);
      if (fl.targetAddress === c.targetAddress) out.push(`${c.targetAddress} already has the floating IP ${fl.address}`);
    }
    for (const f of forwards) {
      if (f.hostAddress === c.address) out.push(`floating IP ${c.address} is used by the ${f.protocol} port forward ${f.hostAddress}:${fmtRange(f.hostPort, f.hostPortEnd)}`);
    }
  }
  return out;
}

/** Throw Conflict (first message, all in the text) when the candidate conflicts with existing entries. */
export function assertNoForwardConflicts(existing: ForwardState, candidate: PortForward | FloatingIp): void {
  const msgs = findForwardConflicts(existing, candidate);
  if (msgs.length > 0) throw conflict(msgs.join('; '));
}
