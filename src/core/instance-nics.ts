import { applyBandwidth } from '../drivers/network/qos/bandwidth.js';
import { readCounters } from '../drivers/network/qos/counters.js';
import type { Instance, Nic } from '../shared/api-types.js';
import type { NicAttach, NicPatch, NicRequest } from '../shared/network-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { InstanceHost, NicsPort } from './instance-ports.js';
import type { FirewallService } from './firewall-service.js';
import type { ForwardService } from './forward-service.js';
import { MAX_NICS, limitsFrom, nextNicName, tapName } from './instance-nics-plan.js';
import { DEFAULT_GROUP } from './firewall-service.js';

/** Instance NICs beyond creation: hot-plug, removal, live security groups and bandwidth, counters. */
export class InstanceNics implements NicsPort {
  constructor(private svc: InstanceHost, private firewall: FirewallService, readonly forwards: ForwardService) {}

  private get d() {
    return this.svc.d;
  }

  /** Check NIC requests before anything is created (networks and groups exist, rates parse). */
  async validateRequests(reqs: NicRequest[]): Promise<void> {
    if (reqs.length > MAX_NICS) throw invalid(`an instance has at most ${MAX_NICS} NICs`);
    for (const r of reqs) {
      await this.d.network.record(r.network);
      await this.firewall.assertGroups(r.securityGroups ?? []);
      limitsFrom(r);
    }
  }

  limitsOf(req: NicRequest): Pick<Nic, 'ingressBps' | 'egressBps'> {
    return limitsFrom(req);
  }

  /** Re-render and apply the daemon's firewall policy. */
  applyFirewall(): Promise<void> {
    return this.firewall.apply();
  }

  /** Put the NIC's bandwidth limits on its tap (removes them when none). */
  async applyLimits(nic: Nic): Promise<void> {
    await applyBandwidth(this.d.exec, nic.tap, { ingressBps: nic.ingressBps ?? 0, egressBps: nic.egressBps ?? 0 });
  }

  /** Plug the hot-plugged NICs into the freshly started VM (they stay on hot-plug ports so they can be removed). */
  async plugAll(rec: { name: string; qemuId?: number; nics: Nic[] }): Promise<void> {
    const hot = rec.nics.filter((n) => n.hotplug);
    if (hot.length === 0) return;
    const vm = this.svc.vmRef(rec);
    for (const n of hot) await this.d.vms.plugNic(vm, n, true);
  }

  /** Counters of each NIC whose tap exists (the VM runs). */
  async withCounters(view: Instance): Promise<Instance> {
    const nics = await Promise.all(
      view.nics.map(async (n) => {
        const c = view.pid !== null ? await readCounters(n.tap) : null;
        return c ? { ...n, counters: c } : n;
      }),
    );
    return { ...view, nics };
  }

  /** Add a NIC on a network: address, tap, limits, firewall; hot-plugged at once when the VM runs. */
  async attach(name: string, req: NicAttach) {
    const rec = await this.svc.record(name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    await this.validateRequests([req]);
    const nicName = nextNicName(rec.nics);
    return this.d.ops.start('instance.nic.attach', name, async () => {
      const alloc = await this.d.network.allocate(req.network, name, nicName, name, req.address);
      const nic: Nic = {
        name: nicName,
        network: req.network,
        mac: alloc.mac,
        address: alloc.ip,
        ...(alloc.ipv6 ? { ipv6: alloc.ipv6 } : {}),
        tap: tapName(this.d.config.prefix, rec.uuid, nicName),
        securityGroups: req.securityGroups ?? [DEFAULT_GROUP],
        ...limitsFrom(req),
        hotplug: true,
      };
      const isContainer = rec.type === 'container';
      try {
        if (!isContainer) {
          await this.d.network.createTap(nic.tap, nic.network, this.svc.tapOwner(rec));
          await this.applyLimits(nic);
        }
        const cur = await this.svc.record(name);
        await this.svc.patch(name, (now) => ({ nics: [...now.nics, nic] }));
        await this.firewall.apply();
        if (cur.state === 'running' || cur.state === 'paused') {
          if (isContainer) await this.svc.containers!.plugNic(cur, nic);
          else await this.d.vms.plugNic(this.svc.vmRef(cur), nic, true);
        }
      } catch (e) {
        const cur = await this.svc.record(name).catch(() => null);
        if (cur) await this.svc.patch(name, (now) => ({ nics: now.nics.filter((n) => n.name !== nicName) }));
        await this.d.network.deleteTap(nic.tap).catch(() => undefined);
        await this.d.network.release(name, nicName);
        await this.firewall.apply().catch(() => undefined);
        throw e;
      }
      return this.svc.view(await this.svc.record(name));
    });
  }

  /** Remove a NIC (unplugged live when it sits on a hot-plug port); its address, tap and forwards go with it. */
  async detach(name: string, nicName: string) {
    const rec = await this.svc.record(name);
    const nic = rec.nics.find((n) => n.name === nicName);
    if (!nic) throw notFound(`NIC ${nicName} of instance ${name}`);
    const live = rec.state === 'running' || rec.state === 'paused';
    const isContainer = rec.type === 'container';
    if (live && !nic.hotplug && !isContainer) throw conflict(`NIC ${nicName} of ${name} was there at boot and cannot be unplugged live: stop the instance first`);
    if (rec.nics.length === 1) throw conflict(`NIC ${nicName} is the only NIC of ${name}`);
    return this.d.ops.start('instance.nic.detach', name, async () => {
      // A container's NIC is a veth: deleting its host end below removes it from the container.
      if (live && !isContainer) await this.d.vms.unplugNic(this.svc.vmRef(rec), nic, true);
      const cur = await this.svc.record(name);
      await this.svc.patch(name, (now) => ({ nics: now.nics.filter((n) => n.name !== nicName) }));
      await this.forwards.dropNic(name, nicName);
      await this.firewall.apply();
      await this.d.network.deleteTap(nic.tap);
      await this.d.network.release(name, nicName);
      return this.svc.view(await this.svc.record(name));
    });
  }

  /** Change a NIC's security groups and/or bandwidth limits, live. */
  async patch(name: string, nicName: string, req: NicPatch): Promise<Instance> {
    const rec = await this.svc.record(name);
    const nic = rec.nics.find((n) => n.name === nicName);
    if (!nic) throw notFound(`NIC ${nicName} of instance ${name}`);
    if (req.securityGroups) await this.firewall.assertGroups(req.securityGroups);
    const next: Nic = { ...nic, ...(req.securityGroups ? { securityGroups: [...new Set(req.securityGroups)] } : {}), ...limitsFrom(req) };
    await this.svc.patch(name, (now) => ({ nics: now.nics.map((n) => (n.name === nicName ? { ...n, ...(req.securityGroups ? { securityGroups: next.securityGroups } : {}), ...limitsFrom(req) } : n)) }));
    if (req.securityGroups) await this.firewall.apply();
    if ((req.ingress !== undefined || req.egress !== undefined) && (await this.d.network.tapExists(nic.tap))) await this.applyLimits(next);
    return this.svc.view(await this.svc.record(name));
  }
}
