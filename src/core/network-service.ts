import type { FirewallPolicy, NetnsSetup, NetworkDriver, NetworkSpec, Reservation, VethSpec } from '../drivers/network/types.js';
import { validateSpec } from '../drivers/network/validate.js';
import { clearBandwidth, sweepOrphanIfbs } from '../drivers/network/qos/bandwidth.js';
import type { Network, NetworkCreate, Lease } from '../shared/network-types.js';
import { allocateAddress, contains, hostCount, nthHost, overlaps, parseCidr, formatIpv4, prefixOf, randomMac, validateCidr, parseIpv4 } from '../lib/ip.js';
import { eui64Address, hostIn6, overlaps6, ulaSubnet, validateSubnet64 } from '../lib/ip6.js';
import { conflict, invalid, isRevisionConflict, notFound, NimboError } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import { validateName } from '../lib/validate.js';
import { ipamPrefix, networkKey, networkSpec, toNetwork, type Allocation, type NetworkRecord } from './network-record.js';
import { DEFAULT_PROJECT, keys, lockTarget, projectOfKey } from '../store/keys.js';
import { deleteCounted, putCounted } from './quota/charged.js';

export type { Allocation } from './network-record.js';

/** On a vxlan network the first 8 addresses are the hosts' gateways (one per host). */
export const VXLAN_GATEWAYS = 8;

/**
 * Addresses this host must not hand out on a network: its gateway; on a vxlan network every
 * host's gateway slot, and (until clustering shares one IPAM) the addresses of the other hosts:
 * host g allocates only addresses i > 8 with i % 8 == g % 8, so up to 8 hosts never collide.
 */
export function excludedFor(rec: Pick<NetworkRecord, 'subnet' | 'gateway' | 'type'>): string[] {
  if (rec.type !== 'vxlan') return [rec.gateway];
  const base = parseCidr(rec.subnet).network;
  const g = parseIpv4(rec.gateway) - base;
  const out: string[] = [];
  for (let i = 1; i <= hostCount(rec.subnet); i++) if (i <= VXLAN_GATEWAYS || i % VXLAN_GATEWAYS !== g % VXLAN_GATEWAYS) out.push(formatIpv4(base + i));
  return out;
}

/** A network record with its project (records from before projects carry none: it comes from the key). */
function withProject(key: string, rec: NetworkRecord): NetworkRecord {
  return rec.project ? rec : { ...rec, project: projectOfKey(key) ?? DEFAULT_PROJECT };
}

/** The project of a network record. */
const projectOf = (rec: NetworkRecord): string => rec.project ?? DEFAULT_PROJECT;

/** Name of the network every daemon has (in the project 'default'). */
export const DEFAULT_NETWORK = 'default';

/** Networks (records in the store, made real by the network driver) and nimbo's IPAM. */
export class NetworkService {
  /** Called after any change that the firewall policy depends on (set by the daemon). */
  onChange: () => Promise<void> = async () => {};

  constructor(private d: BaseDeps, readonly driver: NetworkDriver) {}

  /** The networks of one project. */
  async records(project: string): Promise<NetworkRecord[]> {
    return (await this.d.store.list<NetworkRecord>(keys.networks(project))).map((k) => withProject(k.key, k.value));
  }

  /** The networks of every project (host-wide: subnets and bridges are unique on the host, the firewall covers all). */
  async allRecords(): Promise<NetworkRecord[]> {
    return (await this.d.store.list<NetworkRecord>(keys.allNetworks)).map((k) => withProject(k.key, k.value));
  }

  /** One network of a project; NotFound when that project has none of the name. */
  async record(project: string, name: string): Promise<NetworkRecord> {
    const kv = await this.d.store.get<NetworkRecord>(networkKey(project, name));
    if (!kv) throw notFound(`network ${name}`);
    return withProject(kv.key, kv.value);
  }

  /** The driver spec of a network. */
  async spec(project: string, name: string): Promise<NetworkSpec> {
    return networkSpec(await this.record(project, name), this.d.config, this.d.paths);
  }

  /** The driver specs of every network of every project. */
  async specs(): Promise<NetworkSpec[]> {
    return (await this.allRecords()).map((r) => networkSpec(r, this.d.config, this.d.paths));
  }

  /**
   * Make the default network's record (first start) and bring every network up. The firewall policy
   * (groups, ports, forwards) is handed over first and the ruleset is declared whole for all networks,
   * so a restart never runs with a partial ruleset; then bridges and dnsmasq are repaired.
   */
  async init(policy?: () => Promise<FirewallPolicy>): Promise<void> {
    if (!(await this.d.store.get(networkKey(DEFAULT_PROJECT, DEFAULT_NETWORK)))) {
      const rec = await this.newRecord(DEFAULT_PROJECT, { name: DEFAULT_NETWORK, subnet: this.d.config.subnet }, 0);
      await this.d.store.put(networkKey(DEFAULT_PROJECT, rec.name), rec, { expectRevision: 0 });
    }
    const specs = await this.specs();
    if (policy) await this.driver.setPolicy(this.d.config.prefix, await policy());
    await this.driver.applyFirewall(specs);
    for (const rec of await this.allRecords()) await this.driver.ensure(networkSpec(rec, this.d.config, this.d.paths), await this.reservations(projectOf(rec), rec.name));
    const swept = await sweepOrphanIfbs(this.d.exec);
    if (swept.length > 0) this.d.log.info({ swept }, 'removed bandwidth devices of taps that are gone');
  }

  /**
   * A project's own network `default` (made on its first use, outside the project 'default' whose one is made at
   * daemon start): every project gets a bridge and subnet of its own, so projects' instances do not share a segment.
   */
  async ensureProjectDefault(project: string): Promise<void> {
    if (project === DEFAULT_PROJECT || (await this.d.store.get(networkKey(project, DEFAULT_NETWORK)))) return;
    const rec = await this.newRecord(project, { name: DEFAULT_NETWORK, description: `the default network of project ${project}` });
    try {
      await this.d.store.put(networkKey(project, rec.name), rec, { expectRevision: 0 });
    } catch (e) {
      if (isRevisionConflict(e) || (e instanceof NimboError && e.code === 'Conflict')) return; // a concurrent request made it
      throw e;
    }
    const spec = networkSpec(rec, this.d.config, this.d.paths);
    try {
      await this.driver.ensure(spec, []);
    } catch (e) {
      await this.d.store.delete(networkKey(project, rec.name));
      await this.driver.remove(spec).catch(() => undefined);
      throw e;
    }
    this.d.events.publish('network', rec.name, { action: 'created' }, project);
  }

  /** Tear every network down (tests and `nimbo down --purge`). */
  async removeAll(): Promise<void> {
    for (const s of await this.specs()) await this.driver.remove(s);
    await this.driver.removeFirewall(this.d.config.prefix);
  }

  /** Validate a create request and build the record (bridge number, subnets, gateway). */
  private async newRecord(project: string, req: NetworkCreate, bridgeNo?: number): Promise<NetworkRecord> {
    validateName(req.name, 'network name');
    // Subnets and bridges are host objects: unique across every project's networks.
    const others = await this.allRecords();
    const type = req.type ?? (req.vxlan ? 'vxlan' : 'bridge');
    if (type === 'vxlan' && !req.vxlan) throw invalid('a vxlan network needs vxlan settings (vni, local, peers)');
    if (type === 'bridge' && req.vxlan) throw invalid('vxlan settings are only for networks of type vxlan');
    const subnet = req.subnet !== undefined ? validateCidr(req.subnet) : this.pickSubnet(`${project}/${req.name}`, others);
    if (parseCidr(subnet).prefix > 29) throw invalid(`subnet ${subnet} is too small: use /29 or larger (a network needs a gateway and room for instances)`);
    // Another project's network is not named (its name is that project's business).
    for (const o of others) if (overlaps(o.subnet, subnet)) throw conflict(`subnet ${subnet} overlaps ${o.subnet} of ${projectOf(o) === project ? `network ${o.name}` : 'a network of another project'}`);
    const gateway = req.gateway ?? nthHost(subnet, 1);
    const gwIndex = parseIpv4(gateway) - parseCidr(subnet).network;
    if (!contains(subnet, `${gateway}/32`) || gwIndex < 1 || gwIndex > hostCount(subnet)) throw invalid(`gateway ${gateway} is not a host address of ${subnet}`);
    if (type === 'vxlan' && gwIndex > VXLAN_GATEWAYS) throw invalid(`on a vxlan network the gateway must be one of the first ${VXLAN_GATEWAYS} addresses (one per host)`);
    const ipv6 = req.ipv6 === 'none' ? null : this.ipv6Of(req.ipv6 ?? 'auto', `${project}/${req.name}`, others, gwIndex);
    const n = bridgeNo ?? this.freeBridgeNumber(others);
    const p = this.d.config.prefix;
    const rec: NetworkRecord = {
      name: req.name,
      project,
      type,
      mode: req.mode ?? 'nat',
      bridge: `${p}br${n}`,
      subnet,
      gateway,
      ipv6,
      vxlan: req.vxlan ? { vni: req.vxlan.vni, local: req.vxlan.local, port: req.vxlan.port ?? 4789, peers: [...req.vxlan.peers], device: `${p}vx${n}` } : null,
      description: req.description ?? '',
      createdAt: new Date().toISOString(),
    };
    validateSpec(networkSpec(rec, this.d.config, this.d.paths));
    return rec;
  }

  private ipv6Of(want: string, name: string, others: NetworkRecord[], hostIndex: number): { subnet: string; gateway: string } {
    const subnet = validateSubnet64(want === 'auto' ? ulaSubnet(`${this.d.config.prefix}/${name}/${Date.now()}/${Math.random()}`) : want);
    for (const o of others) if (o.ipv6 && overlaps6(o.ipv6.subnet, subnet)) throw conflict(`IPv6 subnet ${subnet} overlaps ${o.ipv6.subnet} of another network`);
    return { subnet, gateway: hostIn6(subnet, hostIndex) };
  }

  /** A /24 in 10.64.0.0/10 derived from the name, moved on while it overlaps another network. */
  private pickSubnet(name: string, others: NetworkRecord[]): string {
    let h = 0;
    for (const c of `${this.d.config.prefix}/${name}`) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const base = parseIpv4('10.64.0.0');
    for (let i = 0; i < 16384; i++) {
      const cidr = `${formatIpv4(base + (((h + i) % 16384) << 8))}/24`;
      if (!others.some((o) => overlaps(o.subnet, cidr)) && !contains(this.d.config.subnet, cidr)) return cidr;
    }
    throw conflict('no free /24 left in 10.64.0.0/10: give a subnet');
  }

  private freeBridgeNumber(others: NetworkRecord[]): number {
    const used = new Set(others.map((o) => Number(o.bridge.slice(this.d.config.prefix.length + 2))));
    let n = 1;
    while (used.has(n)) n++;
    if (n > 999) throw conflict('too many networks on this daemon');
    return n;
  }

  /** Validate now (a bad request is a 400), then create the network as an Operation. */
  async create(project: string, req: NetworkCreate) {
    const rec = await this.newRecord(project, req);
    await putCounted(this.d, networkKey(project, rec.name), rec, project, { networks: 1 }, `network ${rec.name} already exists`);
    return this.d.ops.start('network.create', `network/${rec.name}`, async () => {
      const spec = networkSpec(rec, this.d.config, this.d.paths);
      try {
        await this.driver.ensure(spec, []);
      } catch (e) {
        await deleteCounted(this.d, networkKey(project, rec.name));
        await this.driver.remove(spec).catch(() => undefined);
        throw e;
      }
      this.d.events.publish('network', rec.name, { action: 'created' }, project);
      return this.view(project, rec.name);
    }, { lockAs: lockTarget.network(project, rec.name), project });
  }

  /** Delete a network nothing uses any more. */
  async delete(project: string, name: string) {
    const rec = await this.record(project, name);
    if (name === DEFAULT_NETWORK && project === DEFAULT_PROJECT) throw conflict('the default network cannot be deleted');
    const users = await this.users(project, name);
    if (users.length > 0) throw conflict(`network ${name} is used by ${users.join(', ')}; detach them first`);
    const fwd = await this.d.store.list(keys.forwards(project, name));
    if (fwd.length > 0) throw conflict(`network ${name} has ${fwd.length} forward(s); delete them first`);
    return this.d.ops.start('network.delete', `network/${name}`, async () => {
      await this.driver.remove(networkSpec(rec, this.d.config, this.d.paths));
      await deleteCounted(this.d, networkKey(project, name));
      this.d.events.publish('network', name, { action: 'deleted' }, project);
      return null;
    }, { lockAs: lockTarget.network(project, name), project });
  }

  /** Instances (of the network's project) with a NIC on the network. */
  async users(project: string, name: string): Promise<string[]> {
    return [...new Set((await this.allocations(project, name)).map((a) => a.owner))].sort();
  }

  /** The API view of one network of a project. */
  async view(project: string, name: string): Promise<Network> {
    return toNetwork(await this.record(project, name), await this.users(project, name));
  }

  /** The API views of a project's networks. */
  async list(project: string): Promise<Network[]> {
    return Promise.all((await this.records(project)).map((r) => this.view(project, r.name)));
  }

  private async allocations(project: string, net: string): Promise<Allocation[]> {
    return (await this.d.store.list<Allocation>(ipamPrefix(project, net))).map((k) => k.value);
  }

  private async reservations(project: string, net: string): Promise<Reservation[]> {
    return (await this.allocations(project, net)).map((a) => ({ mac: a.mac, ip: a.ip, hostname: a.hostname, ...(a.ipv6 ? { ipv6: a.ipv6 } : {}) }));
  }

  /** The leases (static reservations) of a network. */
  async leases(project: string, net: string): Promise<Lease[]> {
    await this.record(project, net);
    return (await this.allocations(project, net))
      .sort((a, b) => parseIpv4(a.ip) - parseIpv4(b.ip))
      .map((a) => ({ ip: a.ip, ...(a.ipv6 ? { ipv6: a.ipv6 } : {}), mac: a.mac, instance: a.owner, nic: a.nic, hostname: a.hostname }));
  }

  /**
   * Allocate an address on `net` (the requested one, or the first free) with compare-and-swap in the
   * store, so never twice, and a MAC; the IPv6 address is the SLAAC one of that MAC. Returns ip as CIDR.
   */
  async allocate(project: string, net: string, owner: string, nic: string, hostname: string, requested?: string): Promise<Allocation> {
    const rec = await this.record(project, net);
    if (requested !== undefined) {
      parseIpv4(requested);
      if (!contains(rec.subnet, `${requested}/32`)) throw invalid(`address ${requested} is not in ${rec.subnet} of network ${net}`);
      const first = nthHost(rec.subnet, 1);
      const last = nthHost(rec.subnet, 2 ** (32 - prefixOf(rec.subnet)) - 2);
      if (requested === rec.gateway || parseIpv4(requested) < parseIpv4(first) || parseIpv4(requested) > parseIpv4(last)) {
        throw invalid(`address ${requested} cannot be given to an instance (gateway, network or broadcast address)`);
      }
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const used = new Set((await this.allocations(project, net)).map((a) => a.ip));
      if (requested !== undefined && used.has(requested)) throw conflict(`address ${requested} on network ${net} is already in use`);
      const ip = requested ?? allocateAddress(rec.subnet, used, excludedFor(rec));
      const mac = randomMac();
      const alloc: Allocation = { network: net, ip, mac, owner, nic, hostname, ...(rec.ipv6 ? { ipv6: eui64Address(rec.ipv6.subnet, mac) } : {}) };
      try {
        await this.d.store.put(keys.ipamEntry(project, net, ip), alloc, { expectRevision: 0 });
      } catch (e) {
        if (!isRevisionConflict(e)) throw e;
        continue; // another request took this address first: pick again
      }
      await this.driver.setReservations(networkSpec(rec, this.d.config, this.d.paths), await this.reservations(project, net));
      return { ...alloc, ip: `${ip}/${prefixOf(rec.subnet)}` };
    }
    throw new NimboError('Conflict', 'could not allocate an address: too much contention');
  }

  /** Hand a network's current reservations to its DHCP/DNS server again (a rename changed the hostnames). */
  async refreshReservations(project: string, net: string): Promise<void> {
    const rec = await this.record(project, net);
    await this.driver.setReservations(networkSpec(rec, this.d.config, this.d.paths), await this.reservations(project, net));
  }

  /** Release the addresses an instance of `project` holds (all, or those of one NIC). */
  async release(project: string, owner: string, nic?: string): Promise<void> {
    for (const rec of await this.records(project)) {
      let changed = false;
      for (const kv of await this.d.store.list<Allocation>(ipamPrefix(project, rec.name))) {
        if (kv.value.owner === owner && (nic === undefined || kv.value.nic === nic)) {
          await this.d.store.delete(kv.key);
          changed = true;
        }
      }
      if (changed) await this.driver.setReservations(networkSpec(rec, this.d.config, this.d.paths), await this.reservations(project, rec.name));
    }
  }

  /** Create a tap on a network's bridge, owned by `owner` (a VM's QEMU uid; default the shared QEMU user). */
  async createTap(tap: string, network: string, owner?: string): Promise<void> {
    return this.driver.createTap(tap, await this.bridgeOf(tap, network), owner ?? this.d.config.qemuUser);
  }

  /**
   * The bridge of network `network` of the instance whose NIC has host end `tap`. Drivers name a NIC's network
   * only by name; the project is the instance's (its record holds the NIC before any host end is made).
   */
  private async bridgeOf(tap: string, network: string): Promise<string> {
    const owner = (await this.d.store.list<{ project?: string; nics?: { tap: string }[] }>(keys.allInstances)).find((kv) => kv.value.nics?.some((n) => n.tap === tap));
    const project = owner ? (projectOfKey(owner.key) ?? DEFAULT_PROJECT) : DEFAULT_PROJECT;
    return (await this.record(project, network)).bridge;
  }

  /** Wire a container's namespace: a veth per NIC (host end `tap` on its network's bridge, peer `name` inside) and `setup`. */
  async plugNetns(netns: string, nics: { tap: string; network: string; name: string; mac: string }[], setup?: NetnsSetup): Promise<void> {
    const veths: VethSpec[] = [];
    for (const n of nics) veths.push({ host: n.tap, bridge: await this.bridgeOf(n.tap, n.network), peer: n.name, mac: n.mac });
    return this.driver.plugNetns(netns, veths, setup);
  }

  /** Delete a tap and its bandwidth limits (the egress shaper's ifb device outlives the tap otherwise). */
  async deleteTap(tap: string): Promise<void> {
    await clearBandwidth(this.d.exec, tap);
    await this.driver.deleteTap(tap);
  }

  tapExists(tap: string): Promise<boolean> {
    return this.driver.tapExists(tap);
  }
}
