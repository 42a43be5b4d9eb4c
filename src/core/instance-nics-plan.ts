import { createHash } from 'node:crypto';
import { parseRate } from '../drivers/network/qos/tc-render.js';
import type { Nic } from '../shared/api-types.js';
import { invalid } from '../lib/errors.js';

/** Most NICs one instance may have. */
export const MAX_NICS = 8;

/** The tap device of an instance NIC (at most 15 characters; eth0 keeps nimbo's first naming). */
export function tapName(prefix: string, uuid: string, nic: string): string {
  const room = 14 - prefix.length;
  const id = nic === 'eth0' ? uuid.replace(/-/g, '') : createHash('sha1').update(`${uuid}/${nic}`).digest('hex');
  return `${prefix}-${id.slice(0, room)}`;
}

/** The first free NIC name (eth0, eth1, ...). */
export function nextNicName(nics: Pick<Nic, 'name'>[]): string {
  const used = new Set(nics.map((n) => n.name));
  for (let i = 0; i < MAX_NICS; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
  throw invalid(`an instance has at most ${MAX_NICS} NICs`);
}

/** Bandwidth fields of a NIC from a request's `ingress`/`egress` (rates like "100mbit"; 0 = none). */
export function limitsFrom(req: { ingress?: string | number; egress?: string | number }): Pick<Nic, 'ingressBps' | 'egressBps'> {
  const rate = (v: string | number, what: string) => {
    if (v === 0 || v === '0') return 0;
    try {
      return parseRate(v);
    } catch (e) {
      throw invalid(`${what} bandwidth: ${(e as Error).message}`);
    }
  };
  return {
    ...(req.ingress !== undefined ? { ingressBps: rate(req.ingress, 'ingress') } : {}),
    ...(req.egress !== undefined ? { egressBps: rate(req.egress, 'egress') } : {}),
  };
}
