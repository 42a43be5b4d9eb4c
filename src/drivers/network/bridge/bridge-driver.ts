import type { HostExec } from '../../../host/exec.js';
import type { Logger } from '../../../core/log.js';
import { conflict, notFound } from '../../../core/errors.js';
import { Reverter } from '../../../core/reverter.js';
import { overlaps, prefixOf } from '../../../core/ip.js';
import type { NetworkDriver, NetworkSpec, Reservation } from '../types.js';
import { type NetFs, RealNetFs } from '../host-fs.js';
import { validateIfName, validateOwner, validateReservations, validateSpec } from '../validate.js';
import { dnsmasqPaths, renderAddnHosts, renderDhcpHosts, renderDnsmasqConf } from '../dhcp/dnsmasq-config.js';
import { DnsmasqControl, assertReachableByDnsmasq } from '../dhcp/dnsmasq.js';
import { apply, enableIpForward, removeTable, renderNatRuleset } from '../firewall/nft-nat.js';
import { assertSubnetFree, showLink } from './ip-link.js';

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
 * Networks as Linux bridges: the host holds the gateway address, one dnsmasq per network serves
 * static DHCP leases and DNS, and one nft table per daemon does NAT and isolation for all networks.
 * The nft table is rendered from every network this driver knows; call applyFirewall(allSpecs)
 * after a daemon restart so it covers networks that ensure() has not seen yet.
 */
export class BridgeNetworkDriver implements NetworkDriver {
  private readonly exec: HostExec;
  private readonly log?: Logger;
  private readonly fs: NetFs;
  private readonly dnsmasq: DnsmasqControl;
  /** Every network of this daemon, by name: the nft tables are rendered from this. */
  private readonly known = new Map<string, NetworkSpec>();
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
    assertNoClash(this.known, s);
    await this.fs.mkdirp(s.stateDir, 0o755);
    await assertReachableByDnsmasq(this.fs, s.stateDir);
    const undo = new Reverter();
    try {
      await this.ensureBridge(s, undo);
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
      const previous = this.known.get(s.name);
      this.known.set(s.name, s);
      undo.add(`forget network ${s.name}`, () => (previous ? this.known.set(s.name, previous) : this.known.delete(s.name)));
      await this.syncFirewall([s.nftTable, ...(previous ? [previous.nftTable] : [])]);
      undo.success();
      this.log?.info({ network: s.name, bridge: s.bridge, subnet: s.subnet }, 'network ensured');
    } catch (e) {
      const failed = await undo.revert();
      if (failed.length > 0) this.log?.warn({ network: s.name, failed }, 'some undo steps failed');
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
    if (link) {
      if (link.kind !== 'bridge') throw conflict(`device ${s.bridge} is not a bridge (${link.kind ?? 'plain device'}); not deleting it`);
      await this.exec.run(['ip', 'link', 'del', 'dev', s.bridge]);
    }
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
      assertNoClash(next, s);
      next.set(s.name, s);
    }
    const tables = [...this.known.values()].map((s) => s.nftTable);
    this.known.clear();
    for (const [name, s] of next) this.known.set(name, s);
    await this.syncFirewall(tables);
  }

  /** Delete an nft table of this daemon (no error when absent) and forget the networks that used it. */
  removeFirewall(table: string): Promise<void> {
    return this.serial(() => this.removeFirewallNow(table));
  }

  private async removeFirewallNow(table: string): Promise<void> {
    await removeTable(this.exec, table);
    for (const [name, s] of this.known) if (s.nftTable === table) this.known.delete(name);
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
    if (link.kind !== 'tun') throw conflict(`device ${tap} is not a tap device; not deleting it`);
    await this.exec.run(['ip', 'link', 'del', 'dev', tap]);
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

  /** Bridge exists (and is a bridge), holds exactly the gateway address, and is up. */
  private async ensureBridge(s: NetworkSpec, undo: Reverter): Promise<void> {
    let link = await showLink(this.exec, s.bridge);
    if (link && link.kind !== 'bridge') throw conflict(`device ${s.bridge} exists and is not a bridge (${link.kind ?? 'plain device'})`);
    const want = `${s.gateway}/${prefixOf(s.subnet)}`;
    if (!link?.ipv4.includes(want)) await assertSubnetFree(this.exec, s.subnet, s.bridge);
    if (!link) {
      await this.exec.run(['ip', 'link', 'add', 'name', s.bridge, 'type', 'bridge']);
      undo.add(`delete bridge ${s.bridge}`, () => this.exec.run(['ip', 'link', 'del', 'dev', s.bridge], { allowFailure: true }));
      link = { name: s.bridge, kind: 'bridge', master: null, up: false, ipv4: [] };
    }
    for (const a of link.ipv4) {
      if (a !== want) await this.exec.run(['ip', 'addr', 'del', a, 'dev', s.bridge]);
    }
    if (!link.ipv4.includes(want)) await this.exec.run(['ip', 'addr', 'add', want, 'dev', s.bridge]);
    if (!link.up) await this.exec.run(['ip', 'link', 'set', 'dev', s.bridge, 'up']);
  }

  private async writeHostsFiles(s: NetworkSpec, res: Reservation[]): Promise<void> {
    const p = dnsmasqPaths(s.stateDir);
    await this.fs.writeText(p.dhcpHosts, renderDhcpHosts(res));
    await this.fs.writeText(p.addnHosts, renderAddnHosts(res, s.domain));
  }

  /** Re-render each touched nft table from the known networks; delete a table left with none. */
  private async syncFirewall(tables: string[]): Promise<void> {
    const all = [...this.known.values()];
    for (const t of new Set([...tables, ...all.map((s) => s.nftTable)])) {
      const nets = all.filter((s) => s.nftTable === t);
      if (nets.length === 0) await removeTable(this.exec, t);
      else await apply(this.exec, renderNatRuleset(t, nets));
    }
    if (all.some((s) => s.nat)) await enableIpForward(this.fs);
  }
}

/** Another network in `known` may not share the bridge or state directory, or overlap the subnet. */
function assertNoClash(known: Map<string, NetworkSpec>, s: NetworkSpec): void {
  for (const o of known.values()) {
    if (o.name === s.name) continue;
    if (o.bridge === s.bridge) throw conflict(`bridge ${s.bridge} is already used by network ${o.name}`);
    if (overlaps(o.subnet, s.subnet)) throw conflict(`subnet ${s.subnet} overlaps ${o.subnet} of network ${o.name}`);
    if (o.stateDir === s.stateDir) throw conflict(`state directory ${s.stateDir} is already used by network ${o.name}`);
  }
}
