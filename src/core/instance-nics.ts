import { applyBandwidth } from '../drivers/network/qos/bandwidth.js';
import type { HostExec } from '../host/exec.js';
import type { Instance, Nic } from '../shared/api-types.js';
import type { NicAttach, NicPatch, NicRequest } from '../shared/network-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { NicsPort } from './instance-ports.js';
import type { FirewallService } from './firewall-service.js';
import type { ForwardService } from './forward-service.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceViews } from './instance-view.js';
import { MAX_NICS, limitsFrom, nextNicName, tapName } from './instance-nics-plan.js';
import { DEFAULT_GROUP } from './firewall-service.js';
import { DEFAULT_NETWORK } from './network-service.js';

/** Put a NIC's bandwidth limits on its host end (removes them when none). */
export async function applyNicLimits(exec: HostExec, nic: Nic): Promise<void> {
  await applyBandwidth(exec, nic.tap, { ingressBps: nic.ingressBps ?? 0, egressBps: nic.egressBps ?? 0 });
}

/** Instance NICs beyond creation: hot-plug, removal, live security groups and bandwidth, counters. */
export class InstanceNics implements NicsPort {
  constructor(private runtime: InstanceRuntime, private repo: InstanceRepo, private views: InstanceViews, private firewall: FirewallService, readonly forwards: ForwardService) {}

  private get d() {
    return this.runtime.d;
  }

  /** Check NIC requests before anything is created (networks and groups exist, rates parse). */
  async validateRequests(project: string, reqs: NicRequest[]): Promise<void> {
    if (reqs.length > MAX_NICS) throw invalid(`an instance has at most ${MAX_NICS} NICs`);
    for (const r of reqs) {
      if (r.network === DEFAULT_NETWORK) await this.d.network.ensureProjectDefault(project);
      await this.d.network.record(project, r.network);
      await this.firewall.assertGroups(project, r.securityGroups ?? [DEFAULT_GROUP]);
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

  /** Add a NIC on a network: address, host end, limits, firewall; plugged at once when the instance runs. */
  async attach(project: string, name: string, req: NicAttach) {
    const rec = await this.repo.record(project, name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    await this.validateRequests(project, [req]);
    nextNicName(rec.nics); // refused now when it has no free NIC slot
    return this.d.ops.start('instance.nic.attach', name, async () => {
      // Named under the instance's lock from the record as it is now: two attaches accepted together get two names.
      const nicName = nextNicName((await this.repo.record(project, name)).nics);
      const alloc = await this.d.network.allocate(project, req.network, name, nicName, name, req.address);
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
      const driver = this.runtime.driverOf(rec);
      let plugged = false;
      try {
        await this.repo.patch(project, name, (now) => ({ nics: [...now.nics, nic] }));
        await this.firewall.apply(); // its rules are in place before the NIC carries traffic
        const cur = await this.repo.record(project, name);
        const live = cur.state === 'running' || cur.state === 'paused';
        await driver.plugNic(await this.runtime.specOf(cur), nic, live);
        plugged = true;
        if (await this.d.network.tapExists(nic.tap)) await applyNicLimits(this.d.exec, nic);
      } catch (e) {
        const cur = await this.repo.record(project, name).catch(() => null);
        if (cur) {
          if (plugged) await driver.unplugNic(await this.runtime.specOf(cur), nic, cur.state === 'running' || cur.state === 'paused').catch(() => undefined);
          await this.repo.patch(project, name, (now) => ({ nics: now.nics.filter((n) => n.name !== nicName) }));
        }
        await this.d.network.deleteTap(nic.tap).catch(() => undefined);
        await this.d.network.release(project, name, nicName);
        await this.firewall.apply().catch(() => undefined);
        throw e;
      }
      return this.views.view(await this.repo.record(project, name));
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Remove a NIC (unplugged live where the driver can); its address, host end and forwards go with it. */
  async detach(project: string, name: string, nicName: string) {
    const rec = await this.repo.record(project, name);
    const nic = rec.nics.find((n) => n.name === nicName);
    if (!nic) throw notFound(`NIC ${nicName} of instance ${name}`);
    const live = rec.state === 'running' || rec.state === 'paused';
    if (live && !nic.hotplug && !this.runtime.caps(rec).unplugBootNics) throw conflict(`NIC ${nicName} of ${name} was there at boot and cannot be unplugged live: stop the instance first`);
    if (rec.nics.length === 1) throw conflict(`NIC ${nicName} is the only NIC of ${name}`);
    return this.d.ops.start('instance.nic.detach', name, async () => {
      const cur = await this.repo.record(project, name);
      const isLive = cur.state === 'running' || cur.state === 'paused';
      await this.runtime.driverOf(cur).unplugNic(await this.runtime.specOf(cur), nic, isLive);
      await this.repo.patch(project, name, (now) => ({ nics: now.nics.filter((n) => n.name !== nicName) }));
      await this.forwards.dropNic(project, name, nicName);
      await this.firewall.apply();
      await this.d.network.deleteTap(nic.tap);
      await this.d.network.release(project, name, nicName);
      return this.views.view(await this.repo.record(project, name));
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Change a NIC's security groups and/or bandwidth limits, live. */
  async patch(project: string, name: string, nicName: string, req: NicPatch): Promise<Instance> {
    const rec = await this.repo.record(project, name);
    const nic = rec.nics.find((n) => n.name === nicName);
    if (!nic) throw notFound(`NIC ${nicName} of instance ${name}`);
    if (req.securityGroups) await this.firewall.assertGroups(project, req.securityGroups);
    const next: Nic = { ...nic, ...(req.securityGroups ? { securityGroups: [...new Set(req.securityGroups)] } : {}), ...limitsFrom(req) };
    const saved = await this.repo.patch(project, name, (now) => ({ nics: now.nics.map((n) => (n.name === nicName ? { ...n, ...(req.securityGroups ? { securityGroups: next.securityGroups } : {}), ...limitsFrom(req) } : n)) }));
    if (req.securityGroups) await this.firewall.apply();
    if ((req.ingress !== undefined || req.egress !== undefined) && (await this.d.network.tapExists(nic.tap))) await applyNicLimits(this.d.exec, next);
    return this.views.view(saved);
  }
}
