import { join } from 'node:path';
import type { NetworkDriver, NetworkSpec, Reservation } from '../drivers/network/types.js';
import { allocateAddress, nthHost, prefixOf, randomMac } from './ip.js';
import { NimboError } from './errors.js';
import type { BaseDeps } from './deps.js';

/** One allocated address, kept at /ipam/NETWORK/IP. */
export interface Allocation {
  network: string;
  ip: string;
  mac: string;
  owner: string;
  nic: string;
  hostname: string;
}

const ipamPrefix = (net: string) => `/ipam/${net}/`;

/** The default network and nimbo's IPAM: addresses allocated in the store, served as static DHCP reservations. */
export class NetworkService {
  readonly spec: NetworkSpec;

  constructor(private d: BaseDeps, private driver: NetworkDriver) {
    const { prefix, subnet } = d.config;
    this.spec = {
      name: 'default',
      bridge: `${prefix}br0`,
      subnet,
      gateway: nthHost(subnet, 1),
      nat: true,
      domain: 'nimbo',
      stateDir: join(d.paths.networks, 'default'),
      nftTable: prefix,
    };
  }

  /** Bring the default network up (idempotent: bridge, NAT, dnsmasq with every reservation). */
  async ensure(): Promise<void> {
    await this.driver.ensure(this.spec, await this.reservations());
    await this.driver.applyFirewall([this.spec]);
  }

  /** Tear the network down (used by tests and `nimbo down --purge`). */
  async remove(): Promise<void> {
    await this.driver.remove(this.spec);
    await this.driver.removeFirewall(this.spec.nftTable);
  }

  private async reservations(): Promise<Reservation[]> {
    const all = await this.d.store.list<Allocation>(ipamPrefix(this.spec.name));
    return all.map((a) => ({ mac: a.value.mac, ip: a.value.ip, hostname: a.value.hostname }));
  }

  /** Allocate a free address (compare-and-swap in the store, so never twice) and a MAC for an instance NIC. */
  async allocate(owner: string, nic: string, hostname: string): Promise<Allocation> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const used = new Set((await this.d.store.list<Allocation>(ipamPrefix(this.spec.name))).map((k) => k.value.ip));
      const ip = allocateAddress(this.spec.subnet, used, [this.spec.gateway]);
      const alloc: Allocation = { network: this.spec.name, ip, mac: randomMac(), owner, nic, hostname };
      try {
        await this.d.store.put(`${ipamPrefix(this.spec.name)}${ip}`, alloc, { expectRevision: 0 });
        await this.driver.setReservations(this.spec, await this.reservations());
        return { ...alloc, ip: `${ip}/${prefixOf(this.spec.subnet)}` };
      } catch (e) {
        if (!(e instanceof NimboError) || e.code !== 'Conflict') throw e;
      }
    }
    throw new NimboError('Conflict', 'could not allocate an address: too much contention');
  }

  /** Release every address an instance holds. */
  async release(owner: string): Promise<void> {
    for (const kv of await this.d.store.list<Allocation>(ipamPrefix(this.spec.name))) {
      if (kv.value.owner === owner) await this.d.store.delete(kv.key);
    }
    await this.driver.setReservations(this.spec, await this.reservations());
  }

  /** The addresses currently allocated. */
  async leases(): Promise<Allocation[]> {
    return (await this.d.store.list<Allocation>(ipamPrefix(this.spec.name))).map((k) => k.value);
  }

  createTap(tap: string): Promise<void> {
    return this.driver.createTap(tap, this.spec.bridge, this.d.config.qemuUser);
  }

  deleteTap(tap: string): Promise<void> {
    return this.driver.deleteTap(tap);
  }

  tapExists(tap: string): Promise<boolean> {
    return this.driver.tapExists(tap);
  }
}
