import type { Store } from '../store/store.js';
import type { FirewallPolicy } from '../drivers/network/types.js';
import { assertNoForwardConflicts, validateFloatingIp, validatePortForward, type FloatingIp, type PortForward } from '../drivers/network/firewall/fwd-model.js';
import type { Forward, ForwardCreate } from '../shared/network-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import type { InstanceRecord } from './instance-record.js';
import { networkKey } from './network-record.js';
import { DEFAULT_PROJECT, keys, projectOfKey } from '../store/keys.js';
import { deleteCounted, putCounted } from './quota/charged.js';

/** A forward as kept at /forwards/PROJECT/NETWORK/ID (target: an instance of that project; its address is looked up each time). */
type ForwardRecord = Omit<Forward, 'targetAddress'> & { createdAt: string; project?: string };

const forwardKey = keys.forward;

/** The NIC of `rec` on `network` (the named one, or the first there). */
function nicOn(rec: InstanceRecord, network: string, nic?: string) {
  const n = rec.nics.find((x) => x.network === network && (nic === undefined || x.name === nic));
  if (!n) throw invalid(`instance ${rec.name} has no NIC${nic ? ` ${nic}` : ''} on network ${network}`);
  return n;
}

/** Forwards and floating IPs of every network of every project, resolved to the instances' current addresses. */
export async function forwardPolicy(store: Store, instances: InstanceRecord[]): Promise<Pick<FirewallPolicy, 'forwards' | 'floating'>> {
  const all = await store.list<ForwardRecord>(keys.allForwards);
  // Only the instances some forward names are looked up (the host may hold many more).
  const wanted = new Set(all.map(({ key, value: f }) => `${projectOfKey(key) ?? DEFAULT_PROJECT}/${f.instance}`));
  const byName = new Map<string, InstanceRecord>();
  if (wanted.size) for (const i of instances) if (wanted.has(`${i.project ?? DEFAULT_PROJECT}/${i.name}`)) byName.set(`${i.project ?? DEFAULT_PROJECT}/${i.name}`, i);
  const forwards: PortForward[] = [];
  const floating: FloatingIp[] = [];
  for (const { key, value: f } of all) {
    const inst = byName.get(`${projectOfKey(key) ?? DEFAULT_PROJECT}/${f.instance}`);
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

  private async instance(project: string, name: string): Promise<InstanceRecord> {
    const kv = await this.d.store.get<InstanceRecord>(keys.instance(project, name));
    if (!kv) throw notFound(`instance ${name}`);
    return kv.value;
  }

  private async view(project: string, f: ForwardRecord): Promise<Forward> {
    const { createdAt: _c, project: _p, ...rest } = f;
    const inst = await this.d.store.get<InstanceRecord>(keys.instance(project, f.instance));
    const nic = inst?.value.nics.find((n) => n.name === f.nic);
    return { ...rest, targetAddress: nic ? nic.address.split('/')[0]! : '' };
  }

  /** The forwards of one network of a project. */
  async list(project: string, network: string): Promise<Forward[]> {
    if (!(await this.d.store.get(networkKey(project, network)))) throw notFound(`network ${network}`);
    return Promise.all((await this.d.store.list<ForwardRecord>(keys.forwards(project, network))).map((k) => this.view(project, k.value)));
  }

  /** Validate, refuse clashes (with other forwards and with host services listening there), store, apply. */
  async create(project: string, network: string, req: ForwardCreate): Promise<Forward> {
    if (!(await this.d.store.get(networkKey(project, network)))) throw notFound(`network ${network}`);
    const inst = await this.instance(project, req.instance);
    const nic = nicOn(inst, network, req.nic);
    const targetAddress = nic.address.split('/')[0]!;
    // Host addresses and ports are host-wide: a clash with any project's forward is refused.
    const instances = (await this.d.store.list<InstanceRecord>(keys.allInstances)).map((k) => ({ ...k.value, project: projectOfKey(k.key) ?? DEFAULT_PROJECT }));
    const existing = await forwardPolicy(this.d.store, instances);
    const state = { forwards: existing.forwards, floatingIps: existing.floating };
    let rec: ForwardRecord;
    const base = { network, project, listenAddress: req.listenAddress, instance: inst.name, nic: nic.name, description: req.description ?? '', createdAt: new Date().toISOString() };
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
    await putCounted(this.d, forwardKey(project, network, rec.id), rec, project, rec.kind === 'floating' ? { floatingIps: 1 } : {}, `forward ${rec.id} already exists on network ${network}`);
    try {
      await this.apply();
    } catch (e) {
      await deleteCounted(this.d, forwardKey(project, network, rec.id));
      await this.apply().catch(() => undefined);
      throw e;
    }
    this.d.events.publish('network', network, { action: 'forward-created', forward: rec.id }, project);
    return this.view(project, rec);
  }

  /** Delete a forward of a project's network. */
  async delete(project: string, network: string, id: string): Promise<void> {
    const kv = await this.d.store.get<ForwardRecord>(forwardKey(project, network, id));
    if (!kv) throw notFound(`forward ${id} on network ${network}`);
    await deleteCounted(this.d, forwardKey(project, network, id));
    await this.apply();
    this.d.events.publish('network', network, { action: 'forward-deleted', forward: id }, project);
  }

  /** Forget the forwards of an instance of `project` (all, or those of one NIC): it or its NIC is being removed. */
  async dropNic(project: string, instance: string, nic?: string): Promise<void> {
    for (const kv of await this.d.store.list<ForwardRecord>(keys.forwardsOfProject(project))) {
      if (kv.value.instance === instance && (nic === undefined || kv.value.nic === nic)) await deleteCounted(this.d, kv.key);
    }
  }
}
