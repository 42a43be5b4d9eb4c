import { conflict, isRevisionConflict } from '../../lib/errors.js';
import type { Store } from '../../store/store.js';
import { keys, keyTail } from '../../store/keys.js';

// Every instance NIC on a nimbo network gets a TCP port of its own on this host, from a fixed range:
// nimbod serves that NIC's metadata there (the nft DNAT sends the NIC's requests to it). A port is a
// store record /metadata-ports/PORT = { owner: instance UUID, nic }, created by compare-and-swap, so no
// two NICs ever get one port; it names the instance by UUID (names repeat across projects and change).

/** First port of the range nimbod serves instance NICs' metadata on (bound on network gateways only). */
export const METADATA_PORT_FIRST = 17000;
/** Last port of that range: 8000 NICs per host. Below Linux's ephemeral range (32768-60999). */
export const METADATA_PORT_LAST = 24999;

/** One NIC's claim on a port. */
export interface PortClaim {
  port: number;
  owner: string;
  nic: string;
}

/** Every claimed port. */
export async function listClaims(store: Store): Promise<PortClaim[]> {
  return (await store.list<{ owner: string; nic: string }>(keys.metadataPorts)).map((kv) => ({ port: Number(keyTail(keys.metadataPorts, kv.key)), owner: kv.value.owner, nic: kv.value.nic }));
}

/** Claim the lowest free port for NIC `nic` of instance `owner` (compare-and-swap: a port taken meanwhile is skipped). */
export async function claimPort(store: Store, owner: string, nic: string, taken: Set<number>): Promise<number> {
  for (let p = METADATA_PORT_FIRST; p <= METADATA_PORT_LAST; p++) {
    if (taken.has(p)) continue;
    try {
      await store.put(keys.metadataPort(p), { owner, nic }, { expectRevision: 0 });
      taken.add(p);
      return p;
    } catch (e) {
      if (!isRevisionConflict(e)) throw e;
      taken.add(p);
    }
  }
  throw conflict(`no free metadata port: all ${METADATA_PORT_LAST - METADATA_PORT_FIRST + 1} ports (${METADATA_PORT_FIRST}-${METADATA_PORT_LAST}) are in use`);
}

/** Give a port back. */
export async function releasePort(store: Store, port: number): Promise<void> {
  await store.delete(keys.metadataPort(port));
}
