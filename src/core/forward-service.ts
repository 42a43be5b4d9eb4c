import type { Store } from '../store/store.js';
import type { FirewallPolicy } from '../drivers/network/types.js';
import { assertNoForwardConflicts, validateFloatingIp, validatePortForward, type FloatingIp, type PortForward } from '../drivers/network/firewall/fwd-model.js';
import type { Forward, ForwardCreate } from '../shared/network-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import type { InstanceRecord } from './instance-record.js';
import { networkKey } from './network-record.js';
import { keys } from '../store/keys.js';
import { deleteCounted, putCounted } from './quota/charged.js';

/** A forward as kept at /forwards/NETWORK/ID (the target address is looked up from the instance each time). */
type ForwardRecord = Omit<Forward, 'targetAddress'> & { createdAt: string };

const forwardKey = keys.forward;

/** The NIC of `rec` on `network` (the named one, or the first there). */
function nicOn(rec: InstanceRecord, network: string, nic?: string) {
  const n = rec.nics.find((x) => x.network === network && (nic === undefined || x.name === nic));
  if (!n) throw invalid(`instance ${rec.name} has no NIC${nic ? ` ${nic}` : ''} on network ${network}`);
  return n;
}

/** Forwards and floating IPs of every network, resolved to the instances' current addresses. */
export async function forwardPolicy(store: Store, instances: InstanceRecord[]): Promise<Pick<FirewallPolicy, 'forwards' | 'floating'>> {
  const byName = new Map(instances.map((i) => [i.name, i]));
  const forwards: PortForward[] = [];
  const floating: FloatingIp[] = [];
  for (const { value: f } of await store.list<ForwardRecord>(keys.allForwards)) {
    const inst = byName.get(f.instance);
    const nic = inst?.nics.find((n) => n.name === f.nic);
    if (!nic) continue; // the instance or NIC went away; its forward is dropped with it
    const targetAddress = nic.address.split('/')[0]!;
    if (f.kind === 'floating') floating.push({ address: f.listenAddress, targetAddress });
    else forwards.push({ protocol: f.protocol as 'tcp' | 'udp', hostAddress: f.listenAddress, hostPort: f.listenPort!, hostPortEnd: f.listenPortEnd ?? f.listenPort!, targetAddress, targetPort: f.targetPort! });
  }
  return { forwards, floating };
}

/** Listening sockets on the host that a forward on addr:from-to would shadow. */
export function listenersIn(ssOutput: string, addr: string, from: number, to: number): string[] {
  const hits: string[] = [];
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const i = local.lastIndexOf(':');
    const host = local.slice(0, i).replace(/%.*$/, '');
    const port = Number(local.slice(i + 1));
    const any = host === '*' || host === '0.0.0.0' || host === '[::]';
    if ((any || host === addr) && port >= from && port <= to) hits.push(local);
  }
  return hits;
}

/** Port forwards (host address:port → instance:port) and floating IPs (host address ↔ instance, 1:1), live. */
export class ForwardService {
  constructor(private d: BaseDeps, private apply: () => Promise<void>) {}

  private async instance(name: string): Promise<InstanceRecord> {
    const kv = await this.d.store.get<InstanceRecord>(keys.instance(name));
    if (!kv) throw notFound(`instance ${name}`);
    return kv.value;
  }

  private async view(f: ForwardRecord): Promise<Forward> {
    const { createdAt: _c, ...rest } = f;
    const inst = await this.d.store.get<InstanceRecord>(keys.instance(f.instance));
    const nic = inst?.value.nics.find((n) => n.name === f.nic);
    return { ...rest, targetAddress: nic ? nic.address.split('/')[0]! : '' };
  }

  async list(network: string): Promise<Forward[]> {
    if (!(await this.d.store.get(networkKey(network)))) throw notFound(`network ${network}`);
    return Promise.all((await this.d.store.list<ForwardRecord>(keys.forwards(network))).map((k) => this.view(k.value)));
  }

  /** Validate, refuse clashes (with other forwards and with host services listening there), store, apply. */
  async create(network: string, req: ForwardCreate): Promise<Forward> {
    if (!(await this.d.store.get(networkKey(network)))) throw notFound(`network ${network}`);
    const inst = await this.instance(req.instance);
    const nic = nicOn(inst, network, req.nic);
    const targetAddress = nic.address.split('/')[0]!;
    const instances = (await this.d.store.list<InstanceRecord>(keys.instances())).map((k) => k.value);
    const existing = await forwardPolicy(this.d.store, instances);
    const state = { forwards: existing.forwards, floatingIps: existing.floating };
    let rec: ForwardRecord;
    const base = { network, listenAddress: req.listenAddress, instance: inst.name, nic: nic.name, description: req.description ?? '', createdAt: new Date().toISOString() };
    if (req.listenPort === undefined) {
      if (req.protocol !== undefined || req.targetPort !== undefined || req.listenPortEnd !== undefined) {
        throw invalid('a floating IP maps all ports: give listenPort (and targetPort) for a port forward, or no ports at all');
      }
      const fl = validateFloatingIp({ address: req.listenAddress, targetAddress });
      assertNoForwardConflicts(state, fl);
      rec = { ...base, id: `floating-${fl.address}`, kind: 'floating', listenAddress: fl.address };
    } else {
      const f = validatePortForward({
        protocol: req.protocol ?? 'tcp',
        hostAddress: req.listenAddress,
        hostPort: req.listenPort,
        ...(req.listenPortEnd !== undefined ? { hostPortEnd: req.listenPortEnd } : {}),
        targetAddress,
        targetPort: req.targetPort ?? req.listenPort,
      });
      assertNoForwardConflicts(state, f);
      const ss = await this.d.exec.run(['ss', '-Hln', f.protocol === 'tcp' ? '-t' : '-u'], { allowFailure: true });
      const busy = listenersIn(ss.stdout, f.hostAddress, f.hostPort, f.hostPortEnd);
      if (busy.length > 0) throw conflict(`${f.protocol} port ${f.hostAddress}:${f.hostPort} is in use on the host (${busy.join(', ')})`);
      const ports = f.hostPort === f.hostPortEnd ? `${f.hostPort}` : `${f.hostPort}-${f.hostPortEnd}`;
      rec = { ...base, id: `${f.protocol}-${f.hostAddress}-${ports}`, kind: 'port', listenAddress: f.hostAddress, protocol: f.protocol, listenPort: f.hostPort, ...(f.hostPortEnd !== f.hostPort ? { listenPortEnd: f.hostPortEnd } : {}), targetPort: f.targetPort };
    }
    // A floating IP counts against its project's quota; a port forward does not.
    await putCounted(this.d, forwardKey(network, rec.id), rec, 'default', rec.kind === 'floating' ? { floatingIps: 1 } : {}, `forward ${rec.id} already exists on network ${network}`);
    try {
      await this.apply();
    } catch (e) {
      await deleteCounted(this.d, forwardKey(network, rec.id));
      await this.apply().catch(() => undefined);
      throw e;
    }
    this.d.events.publish('network', network, { action: 'forward-created', forward: rec.id });
    return this.view(rec);
  }

  async delete(network: string, id: string): Promise<void> {
    const kv = await this.d.store.get<ForwardRecord>(forwardKey(network, id));
    if (!kv) throw notFound(`forward ${id} on network ${network}`);
    await deleteCounted(this.d, forwardKey(network, id));
    await this.apply();
    this.d.events.publish('network', network, { action: 'forward-deleted', forward: id });
  }

  /** Forget the forwards of an instance (all, or those of one NIC): it or its NIC is being removed. */
  async dropNic(instance: string, nic?: string): Promise<void> {
    for (const kv of await this.d.store.list<ForwardRecord>(keys.allForwards)) {
      if (kv.value.instance === instance && (nic === undefined || kv.value.nic === nic)) await deleteCounted(this.d, kv.key);
    }
  }
}
