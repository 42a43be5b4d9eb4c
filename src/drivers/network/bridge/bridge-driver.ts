import type { HostExec } from '../../../host/exec.js';
import type { Logger } from '../../../lib/log.js';
import { conflict, HostCommandError, notFound } from '../../../lib/errors.js';
import { Reverter } from '../../../lib/reverter.js';
import { parseIpv4, prefixOf, validateMac } from '../../../lib/ip.js';
import { EMPTY_POLICY, type FirewallPolicy, type NetnsSetup, type NetworkDriver, type NetworkSpec, type Reservation, type VethSpec } from '../types.js';
import { renderNetnsBatch } from './netns-batch.js';
import { type NetFs, RealNetFs } from '../host-fs.js';
import { assertNoClash, validateIfName, validateNetnsName, validateNftTable, validateOwner, validateReservations, validateSpec } from '../validate.js';
import { dnsmasqPaths, renderAddnHosts, renderDhcpHosts, renderDnsmasqConf } from '../dhcp/dnsmasq-config.js';
import { DnsmasqControl, assertReachableByDnsmasq } from '../dhcp/dnsmasq.js';
import { apply, removeTable, renderNetworkFragment } from '../firewall/nft-nat.js';
import { renderRuleset } from '../firewall/ruleset.js';
import { renderSecurityFragment } from '../firewall/sg-render.js';
import { renderForwardFragment } from '../firewall/fwd-render.js';
import { metadataInputRules, renderMetadataFragment } from '../metadata-nft.js';
import {
  VXLAN_MTU,
  fdbAppendArgv,
  fdbDelArgv,
  fdbPlan,
  fdbShowArgv,
  parseFloodPeers,
  vxlanAddArgv,
  vxlanAttachArgv,
  vxlanDelArgv,
  vxlanMatches,
} from '../vxlan/vxlan.js';
import { type LinkState, assertSubnet6Free, assertSubnetFree, listPorts, showLink } from './ip-link.js';
import { enableIpForward, enableIpv6Forward, setRouteLocalnet } from './sysctl.js';

/** Options of BridgeNetworkDriver. */
export interface BridgeDriverOptions {
  exec: HostExec;
  logger?: Logger;
  /** Files, procfs and signals (default: the real host). */
  fs?: NetFs;
  /** dnsmasq control (default: one built on exec and fs). */
  dnsmasq?: DnsmasqControl;
}

/**
 * Networks as Linux bridges: the host holds the gateway address(es), one dnsmasq per network serves
 * static DHCP leases, DNS and (with IPv6) router advertisements, an optional VXLAN port extends the
 * bridge to peer hosts, and one ruleset per daemon (`table inet T` + `table bridge T`, replaced in one
 * `nft -f -`) holds the networks' NAT/isolation part, the security groups and the port forwards.
 * The ruleset is rendered from every network this driver knows plus the table's policy (setPolicy);
 * call applyFirewall(allSpecs) and setPolicy(table, policy) after a daemon restart.
 */
export class BridgeNetworkDriver implements NetworkDriver {
  private readonly exec: HostExec;
  private readonly log?: Logger;
  private readonly fs: NetFs;
  private readonly dnsmasq: DnsmasqControl;
  /** Every network of this daemon, by name: the nft tables are rendered from this. */
  private readonly known = new Map<string, NetworkSpec>();
  /** Security groups, ports, forwards and floating IPs per nft table. */
  private readonly policies = new Map<string, FirewallPolicy>();
  /** Tables this driver has rendered (or removed) at least once since it was created. */
  private readonly rendered = new Set<string>();
  /** applyFirewall() has run: the full list of networks is known. */
  private declared = false;
  /** Host changes run one at a time (two concurrent ensure() calls must not both create a bridge). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: BridgeDriverOptions) {
    this.exec = opts.exec;
    this.log = opts.logger;
    this.fs = opts.fs ?? new RealNetFs();
    this.dnsmasq = opts.dnsmasq ?? new DnsmasqControl({ exec: this.exec, fs: this.fs });
  }

  /** Create or repair bridge, address, dnsmasq and the nft table; on failure undo what this call created. */
  ensure(spec: NetworkSpec, reservations: Reservation[]): Promise<void> {
    return this.serial(() => this.ensureNow(spec, reservations));
  }

  private async ensureNow(spec: NetworkSpec, reservations: Reservation[]): Promise<void> {
    const s = validateSpec(spec);
    const res = validateReservations(s, reservations);
    assertNoClash(this.known.values(), s);
    await this.fs.mkdirp(s.stateDir, 0o755);
    await assertReachableByDnsmasq(this.fs, s.stateDir);
    const undo = new Reverter(this.log, { network: s.name });
    try {
      const existed = await this.ensureBridge(s, undo);
      await this.ensureVxlan(s, existed, undo);
      // The ruleset first, dnsmasq second: on an overlay, the first router advertisements and DHCP
      // answers of a new dnsmasq must already be kept from crossing the VXLAN port.
      const previous = this.known.get(s.name);
      const tables = [s.nftTable, ...(previous && previous.nftTable !== s.nftTable ? [previous.nftTable] : [])];
      this.known.set(s.name, s);
      undo.add(`re-render the firewall without network ${s.name}`, () => this.syncFirewall(tables));
      undo.add(`forget network ${s.name}`, () => (previous ? this.known.set(s.name, previous) : this.known.delete(s.name)));
      await this.syncFirewall(tables);
      const p = dnsmasqPaths(s.stateDir);
      const oldConf = await this.fs.readText(p.conf);
      const conf = renderDnsmasqConf(s);
      await this.writeHostsFiles(s, res);
      await this.fs.writeText(p.conf, conf);
      if (await this.dnsmasq.isRunning(s.stateDir)) {
        if (oldConf === conf) await this.dnsmasq.reload(s.stateDir);
        else {
          // SIGHUP does not re-read the main config file.
          this.log?.info({ network: s.name }, 'dnsmasq config changed; restarting dnsmasq');
          await this.dnsmasq.stop(s.stateDir);
          await this.dnsmasq.start(s.stateDir);
        }
      } else {
        await this.dnsmasq.start(s.stateDir);
        undo.add(`stop dnsmasq of ${s.name}`, () => this.dnsmasq.stop(s.stateDir));
      }
      undo.success();
      this.log?.info({ network: s.name, bridge: s.bridge, subnet: s.subnet }, 'network ensured');
    } catch (e) {
      await undo.revert(); // each failed undo step is logged by the reverter
      throw e;
    }
  }

  /** Rewrite the reservation files and SIGHUP dnsmasq when it runs (it picks them up on start otherwise). */
  setReservations(spec: NetworkSpec, reservations: Reservation[]): Promise<void> {
    return this.serial(() => this.setReservationsNow(spec, reservations));
  }

  private async setReservationsNow(spec: NetworkSpec, reservations: Reservation[]): Promise<void> {
    const s = validateSpec(spec);
    const res = validateReservations(s, reservations);
    await this.fs.mkdirp(s.stateDir, 0o755);
    await this.writeHostsFiles(s, res);
    await this.dnsmasq.reload(s.stateDir);
  }

  /** Stop dnsmasq, delete the bridge and the state files, and drop the network from the nft table. */
  remove(spec: NetworkSpec): Promise<void> {
    return this.serial(() => this.removeNow(spec));
  }

  private async removeNow(spec: NetworkSpec): Promise<void> {
    const s = validateSpec(spec);
    await this.dnsmasq.stop(s.stateDir);
    const link = await showLink(this.exec, s.bridge);
    if (link && link.kind !== 'bridge') throw conflict(`device ${s.bridge} is not a bridge (${link.kind ?? 'plain device'}); not deleting it`);
    // Deleting a bridge only releases its ports: the VXLAN port (ours) is deleted explicitly.
    const vxlans = link ? (await listPorts(this.exec, s.bridge)).filter((p) => p.kind === 'vxlan').map((p) => p.name) : [];
    if (s.vxlan && !vxlans.includes(s.vxlan.device)) {
      const dev = await showLink(this.exec, s.vxlan.device);
      if (dev?.kind === 'vxlan' && dev.master === null) vxlans.push(dev.name);
    }
    for (const v of vxlans) await this.exec.run(vxlanDelArgv(v));
    if (link) await this.exec.run(['ip', 'link', 'del', 'dev', s.bridge]);
    const p = dnsmasqPaths(s.stateDir);
    for (const f of [p.conf, p.dhcpHosts, p.addnHosts, p.leases, p.pid]) await this.fs.remove(f);
    await this.fs.rmdirIfEmpty(s.stateDir);
    const previous = this.known.get(s.name);
    this.known.delete(s.name);
    await this.syncFirewall([s.nftTable, ...(previous ? [previous.nftTable] : [])]);
    this.log?.info({ network: s.name, bridge: s.bridge }, 'network removed');
  }

  /**
   * Declare the complete list of this daemon's networks and render their nft table(s) from it
   * (networks not in the list are dropped from the rules). Bridges and dnsmasq are not touched.
   */
  applyFirewall(specs: NetworkSpec[]): Promise<void> {
    return this.serial(() => this.applyFirewallNow(specs));
  }

  private async applyFirewallNow(specs: NetworkSpec[]): Promise<void> {
    const next = new Map<string, NetworkSpec>();
    for (const s of specs.map(validateSpec)) {
      if (next.has(s.name)) throw conflict(`network ${s.name} is listed twice`);
      assertNoClash(next.values(), s);
      next.set(s.name, s);
    }
    const before = new Map(this.known);
    const tables = [...before.values()].map((s) => s.nftTable);
    this.known.clear();
    for (const [name, s] of next) this.known.set(name, s);
    try {
      await this.syncFirewall(tables);
      this.declared = true;
    } catch (e) {
      this.known.clear();
      for (const [name, s] of before) this.known.set(name, s);
      throw e;
    }
  }

  /**
   * Set the security groups, ports, forwards and floating IPs of table `table` and re-apply its ruleset
   * atomically. On failure (invalid policy, nft error) the previous policy stays in force and is kept.
   *
   * Before the first applyFirewall() and before this driver has rendered the table (a fresh daemon), the
   * policy is only validated and recorded: the next applyFirewall()/ensure() applies it together with
   * the networks in one transaction. So a restarting daemon calls setPolicy(table, policy) and then applyFirewall(specs)
   * and the kernel's ruleset is replaced exactly once, never passing through a state with the networks
   * but without the security groups (or the reverse).
   */
  setPolicy(table: string, policy: FirewallPolicy): Promise<void> {
    return this.serial(() => this.setPolicyNow(table, policy));
  }

  private async setPolicyNow(table: string, policy: FirewallPolicy): Promise<void> {
    validateNftTable(table);
    const copy: FirewallPolicy = { groups: [...policy.groups], ports: [...policy.ports], forwards: [...policy.forwards], floating: [...policy.floating], ...(policy.metadata ? { metadata: [...policy.metadata] } : {}) };
    if (!this.declared && !this.rendered.has(table)) {
      renderTable(table, [...this.known.values()].filter((n) => n.nftTable === table), copy); // validates
      this.policies.set(table, copy);
      return;
    }
    const previous = this.policies.get(table);
    this.policies.set(table, copy);
    try {
      await this.syncFirewall([table]);
    } catch (e) {
      if (previous) this.policies.set(table, previous);
      else this.policies.delete(table);
      throw e;
    }
  }

  /** Delete the nft tables of this daemon (no error when absent) and forget the networks and policy that used them. */
  removeFirewall(table: string): Promise<void> {
    return this.serial(() => this.removeFirewallNow(table));
  }

  private async removeFirewallNow(table: string): Promise<void> {
    await removeTable(this.exec, table);
    this.rendered.add(table);
    for (const [name, s] of this.known) if (s.nftTable === table) this.known.delete(name);
    this.policies.delete(table);
  }

  /** Create tap `tap` (owned by `owner`, with vnet_hdr) if missing and attach it to `bridge`, up. */
  createTap(tap: string, bridge: string, owner?: string): Promise<void> {
    return this.serial(() => this.createTapNow(tap, bridge, owner));
  }

  private async createTapNow(tap: string, bridge: string, owner?: string): Promise<void> {
    validateIfName(tap, 'tap name');
    validateIfName(bridge, 'bridge name');
    if (owner !== undefined) validateOwner(owner);
    const br = await showLink(this.exec, bridge);
    if (!br || br.kind !== 'bridge') throw notFound(`bridge ${bridge}`);
    const link = await showLink(this.exec, tap);
    if (link && link.kind !== 'tun') throw conflict(`device ${tap} already exists and is not a tap device`);
    if (!link) {
      await this.exec.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr', ...(owner ? ['user', owner] : [])]);
    }
    if (link && link.master === bridge && link.up) return;
    try {
      await this.exec.run(['ip', 'link', 'set', 'dev', tap, 'master', bridge, 'up']);
    } catch (e) {
      if (!link) await this.exec.run(['ip', 'link', 'del', 'dev', tap], { allowFailure: true });
      throw e;
    }
  }

  /** Delete tap `tap`; no error when absent, Conflict when the device is not a tap. */
  deleteTap(tap: string): Promise<void> {
    return this.serial(() => this.deleteTapNow(tap));
  }

  private async deleteTapNow(tap: string): Promise<void> {
    validateIfName(tap, 'tap name');
    const link = await showLink(this.exec, tap);
    if (!link) return;
    if (link.kind !== 'tun' && link.kind !== 'veth') throw conflict(`device ${tap} is not a tap or veth device; not deleting it`);
    // A veth goes by itself once its peer's namespace is gone: it may vanish between the look and the delete.
    const r = await this.exec.run(['ip', 'link', 'del', 'dev', tap], { allowFailure: true });
    if (r.code !== 0 && (await showLink(this.exec, tap))) throw new HostCommandError(['ip', 'link', 'del', 'dev', tap], r.code, r.stderr);
  }

  /** Wire a container's network namespace with two `ip -batch` runs (see netns-batch.ts); idempotent per veth. */
  plugNetns(netns: string, veths: VethSpec[], setup: NetnsSetup = {}): Promise<void> {
    return this.serial(async () => {
      renderNetnsBatch(netns, veths, setup); // validates everything before any host change
      for (const v of veths) if ((await this.fs.mode(`/sys/class/net/${v.bridge}/bridge`)) === null) throw notFound(`bridge ${v.bridge}`);
      const existing = new Set<string>();
      for (const v of veths) {
        if ((await this.fs.mode(`/sys/class/net/${v.host}`)) === null) continue;
        const link = await showLink(this.exec, v.host);
        if (link && link.kind !== 'veth') throw conflict(`device ${v.host} already exists and is not a veth`);
        if (link) existing.add(v.host);
      }
      const b = renderNetnsBatch(netns, veths, setup, existing);
      try {
        if (b.host) await this.exec.run(['ip', '-batch', '-'], { input: b.host });
        await this.exec.run(['ip', '-n', netns, '-batch', '-'], { input: b.inner });
      } catch (e) {
        for (const v of veths) if (!existing.has(v.host)) await this.exec.run(['ip', 'link', 'del', 'dev', v.host], { allowFailure: true });
        throw e;
      }
    });
  }

  /** True when a device named `tap` exists. */
  async tapExists(tap: string): Promise<boolean> {
    validateIfName(tap, 'tap name');
    return (await showLink(this.exec, tap)) !== null;
  }

  /** Run `fn` after every host change queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Bridge exists (and is a bridge), holds exactly the gateway address (and IPv6 gateway), and is up.
   * Returns whether the bridge existed before.
   */
  private async ensureBridge(s: NetworkSpec, undo: Reverter): Promise<boolean> {
    let link = await showLink(this.exec, s.bridge);
    if (link && link.kind !== 'bridge') throw conflict(`device ${s.bridge} exists and is not a bridge (${link.kind ?? 'plain device'})`);
    const existed = link !== null;
    const want = `${s.gateway}/${prefixOf(s.subnet)}`;
    const want6 = s.ipv6 ? `${s.ipv6.gateway}/64` : null;
    if (!link?.ipv4.includes(want)) await assertSubnetFree(this.exec, s.subnet, s.bridge);
    if (s.ipv6 && want6 && !link?.ipv6.includes(want6)) await assertSubnet6Free(this.exec, s.ipv6.subnet, s.bridge);
    if (!link) {
      await this.exec.run(['ip', 'link', 'add', 'name', s.bridge, 'type', 'bridge']);
      undo.add(`delete bridge ${s.bridge}`, () => this.exec.run(['ip', 'link', 'del', 'dev', s.bridge], { allowFailure: true }));
      link = { name: s.bridge, kind: 'bridge', master: null, up: false, ipv4: [], ipv6: [], mtu: 1500, vxlan: null };
    }
    for (const a of link.ipv4) {
      if (a !== want) await this.exec.run(['ip', 'addr', 'del', a, 'dev', s.bridge]);
    }
    if (!link.ipv4.includes(want)) await this.exec.run(['ip', 'addr', 'add', want, 'dev', s.bridge]);
    // Stale global IPv6 addresses go (link-local ones are the kernel's); the gateway is added without
    // duplicate address detection so that dnsmasq can bind it at once.
    for (const a of link.ipv6) {
      if (a !== want6) await this.exec.run(['ip', '-6', 'addr', 'del', a, 'dev', s.bridge]);
    }
    if (want6 && !link.ipv6.includes(want6)) await this.exec.run(['ip', '-6', 'addr', 'add', want6, 'dev', s.bridge, 'nodad']);
    if (!link.up) await this.exec.run(['ip', 'link', 'set', 'dev', s.bridge, 'up']);
    return existed;
  }

  /**
   * The bridge's VXLAN port matches spec.vxlan (created, or recreated when id, local address or port
   * changed), MTU 1450, up, with exactly one flooding entry per peer; VXLAN ports that are not (or no
   * longer) the spec's are deleted.
   */
  private async ensureVxlan(s: NetworkSpec, bridgeExisted: boolean, undo: Reverter): Promise<void> {
    const v = s.vxlan;
    const ports: LinkState[] = bridgeExisted ? await listPorts(this.exec, s.bridge) : [];
    for (const p of ports) {
      if (p.kind === 'vxlan' && p.name !== v?.device) {
        this.log?.info({ network: s.name, device: p.name }, 'deleting a stale VXLAN port');
        await this.exec.run(vxlanDelArgv(p.name));
      }
    }
    if (!v) return;
    let dev = ports.find((p) => p.name === v.device) ?? (await showLink(this.exec, v.device));
    if (dev && dev.kind !== 'vxlan') throw conflict(`device ${v.device} exists and is not a vxlan device (${dev.kind ?? 'plain device'})`);
    if (dev && dev.master !== null && dev.master !== s.bridge) throw conflict(`vxlan device ${v.device} is a port of ${dev.master}, not of ${s.bridge}`);
    if (dev && (!dev.vxlan || !vxlanMatches(dev.vxlan, v))) {
      this.log?.info({ network: s.name, device: v.device }, 'VXLAN settings changed; recreating the device');
      await this.exec.run(vxlanDelArgv(v.device));
      dev = null;
    }
    if (!dev) {
      await this.exec.run(vxlanAddArgv(v));
      undo.add(`delete vxlan ${v.device}`, () => this.exec.run(vxlanDelArgv(v.device), { allowFailure: true }));
    }
    if (!dev || dev.mtu !== VXLAN_MTU || dev.master !== s.bridge || !dev.up) await this.exec.run(vxlanAttachArgv(v, s.bridge));
    const current = dev ? parseFloodPeers((await this.exec.run(fdbShowArgv(v.device))).stdout) : [];
    const plan = fdbPlan(current, v.peers);
    for (const peer of plan.del) await this.exec.run(fdbDelArgv(v.device, peer));
    for (const peer of plan.add) await this.exec.run(fdbAppendArgv(v.device, peer));
  }

  private async writeHostsFiles(s: NetworkSpec, res: Reservation[]): Promise<void> {
    const p = dnsmasqPaths(s.stateDir);
    await this.fs.writeText(p.dhcpHosts, renderDhcpHosts(res));
    await this.fs.writeText(p.addnHosts, renderAddnHosts(res, s.domain));
  }

  /**
   * Re-render each touched table pair (and every table in use) from the known networks and the table's
   * policy, each in one `nft -f -`; delete a pair left with neither. Then the kernel settings: forwarding
   * for non-isolated networks (after the drops are in place), route_localnet on the table's bridges while
   * a forward listens on 127.0.0.0/8.
   */
  private async syncFirewall(tables: string[]): Promise<void> {
    const all = [...this.known.values()];
    for (const t of new Set([...tables, ...all.map((s) => s.nftTable), ...this.policies.keys()])) {
      const nets = all.filter((s) => s.nftTable === t);
      const policy = this.policies.get(t) ?? EMPTY_POLICY;
      if (nets.length === 0 && isEmptyPolicy(policy)) await removeTable(this.exec, t);
      else await apply(this.exec, renderTable(t, nets, policy));
      this.rendered.add(t);
      const localnet = policy.forwards.some((f) => isLoopback(f.hostAddress));
      for (const n of nets) await setRouteLocalnet(this.fs, n.bridge, localnet);
    }
    const routed = all.filter((s) => s.mode !== 'isolated');
    if (routed.length > 0) await enableIpForward(this.fs);
    if (routed.some((s) => s.ipv6)) await enableIpv6Forward(this.fs, this.exec);
  }
}

/** The complete ruleset of one table pair: networks, security groups, forwards, metadata service (in this order). */
export function renderTable(table: string, nets: NetworkSpec[], policy: FirewallPolicy): string {
  // Only endpoints on this table's bridges (a NIC whose network is not known here yet waits for the next render).
  const bridges = new Set(nets.map((n) => n.bridge));
  const md = (policy.metadata ?? []).filter((e) => bridges.has(e.bridge));
  return renderRuleset(table, [
    renderNetworkFragment(nets, metadataInputRules(md)),
    renderSecurityFragment(policy.groups, policy.ports),
    renderForwardFragment(policy.forwards, policy.floating, { guestSubnets: nets.map((n) => n.subnet) }),
    renderMetadataFragment(md, [...bridges]),
  ]);
}

function isEmptyPolicy(p: FirewallPolicy): boolean {
  return p.groups.length === 0 && p.ports.length === 0 && p.forwards.length === 0 && p.floating.length === 0;
}

function isLoopback(address: string): boolean {
  try {
    return parseIpv4(address) >>> 24 === 127;
  } catch {
    return false;
  }
}
