import type { FirewallPolicy, NetworkDriver } from '../drivers/network/types.js';
import type { MetadataEndpoint } from '../drivers/network/types.js';
import { validateFirewall, validateGroupName, validateRule, type Rule, type SecurityGroup as GroupModel } from '../drivers/network/firewall/sg-model.js';
import type { SecurityGroup, SecurityGroupCreate, SecurityRule } from '../shared/network-types.js';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import type { InstanceRecord } from './instance-record.js';
import { forwardPolicy } from './forward-service.js';
import { casUpdate } from '../store/cas.js';
import { DEFAULT_PROJECT, keys, projectOfKey } from '../store/keys.js';
import { PrefixCache } from '../store/prefix-cache.js';
import { createHash } from 'node:crypto';

/** A security group as kept at /secgroups/PROJECT/NAME. */
interface GroupRecord {
  name: string;
  /** The owning project (absent on records older than projects: from the key). */
  project?: string;
  description: string;
  rules: (Rule & { description?: string })[];
  createdAt: string;
}

const groupKey = keys.secgroup;
/** The group every NIC gets unless told otherwise (each project has its own). */
export const DEFAULT_GROUP = 'default';

/**
 * The host-wide name of a project's group in the firewall model (one ruleset for the whole host): PROJECT_NAME,
 * or, past the model's 63 characters, h + a hash. Injective: a project name has no '_', a hashed name none at all.
 */
export function modelGroupName(project: string, name: string): string {
  const plain = `${project}_${name}`;
  return plain.length <= 63 ? plain : `h${createHash('sha256').update(`${project}/${name}`).digest('hex').slice(0, 32)}`;
}

/** Translate an API rule (ports "80-90", peers "CIDR" or "group:NAME") into the model's rule. */
export function ruleFromApi(r: SecurityRule, id: string): Rule & { description?: string } {
  const peer = (p: string | undefined) => (p === undefined ? undefined : p.startsWith('group:') ? { group: p.slice(6) } : p);
  let ports: { from: number; to: number } | undefined;
  if (r.ports !== undefined) {
    const [a, b] = r.ports.split('-').map(Number) as [number, number | undefined];
    ports = { from: a, to: b ?? a };
  }
  const rule = validateRule({ id, direction: r.direction, protocol: r.protocol, ...(ports ? { ports } : {}), ...(r.source !== undefined ? { source: peer(r.source)! } : {}), ...(r.destination !== undefined ? { destination: peer(r.destination)! } : {}) });
  return { ...rule, ...(r.description ? { description: r.description } : {}) };
}

/** The API form of a model rule. */
export function ruleToApi(r: Rule & { description?: string }): SecurityRule {
  const peer = (p: Rule['source']) => (p === undefined ? undefined : typeof p === 'string' ? p : `group:${p.group}`);
  return {
    id: r.id,
    direction: r.direction,
    protocol: r.protocol,
    ...(r.ports ? { ports: r.ports.from === r.ports.to ? `${r.ports.from}` : `${r.ports.from}-${r.ports.to}` } : {}),
    ...(r.source !== undefined ? { source: peer(r.source)! } : {}),
    ...(r.destination !== undefined ? { destination: peer(r.destination)! } : {}),
    ...(r.description ? { description: r.description } : {}),
  };
}

/** The metadata service as the firewall needs it: its NICs' endpoints for the ruleset, and its listeners once applied. */
export interface MetadataPort {
  endpoints(instances: InstanceRecord[]): Promise<MetadataEndpoint[]>;
  serve(): Promise<void>;
}

/** Security groups in the store, and the daemon's whole firewall policy rendered from the store and applied. */
export class FirewallService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private d: BaseDeps, private driver: NetworkDriver, private metadata?: MetadataPort) {}

  private async records(project: string): Promise<GroupRecord[]> {
    return (await this.d.store.list<GroupRecord>(keys.secgroups(project))).map((k) => k.value);
  }

  private async recordOf(project: string, name: string): Promise<GroupRecord> {
    validateGroupName(name);
    const kv = await this.d.store.get<GroupRecord>(groupKey(project, name));
    if (!kv) throw notFound(`security group ${name}`);
    return kv.value;
  }

  /** Create a project's default group (first start, or a project's first use): members reach each other; SSH and ping from anywhere; all else inbound denied. */
  async init(project = DEFAULT_PROJECT): Promise<void> {
    if (await this.d.store.get(groupKey(project, DEFAULT_GROUP))) return;
    await this.create(project, {
      name: DEFAULT_GROUP,
      description: 'members reach each other; SSH and ping from anywhere',
      rules: [
        { id: 'members', direction: 'ingress', protocol: 'any', source: `group:${DEFAULT_GROUP}` },
        { id: 'ssh', direction: 'ingress', protocol: 'tcp', ports: '22' },
        { id: 'ping', direction: 'ingress', protocol: 'icmp' },
      ],
    });
  }

  private async instances(project: string): Promise<InstanceRecord[]> {
    return (await this.d.store.list<InstanceRecord>(keys.instances(project))).map((k) => k.value);
  }

  /** Every project's instances, with their project (the policy is host-wide). */
  private everyInstance?: PrefixCache<InstanceRecord>;

  private async allInstances(): Promise<InstanceRecord[]> {
    // Read on every change of the ruleset: kept current by the store's watch rather than parsed again each time.
    this.everyInstance ??= new PrefixCache<InstanceRecord>(this.d.store, keys.allInstances, (key, rec) => ({ ...rec, project: projectOfKey(key) ?? DEFAULT_PROJECT }));
    return this.everyInstance.values();
  }

  private async attachments(project: string, name: string): Promise<string[]> {
    return (await this.instances(project)).flatMap((i) => i.nics.filter((n) => (n.securityGroups ?? []).includes(name)).map((n) => `${i.name}/${n.name}`));
  }

  /** One group of a project, with the NICs it is attached to. */
  async view(project: string, name: string): Promise<SecurityGroup> {
    const g = await this.recordOf(project, name);
    return { name: g.name, description: g.description, rules: g.rules.map(ruleToApi), attachedTo: await this.attachments(project, name), createdAt: g.createdAt };
  }

  /** A project's groups (its default group is made on first look). */
  async list(project: string): Promise<SecurityGroup[]> {
    await this.init(project);
    return Promise.all((await this.records(project)).map((g) => this.view(project, g.name)));
  }

  /** Create a group (rules validated; group peers must exist or be the group itself). */
  async create(project: string, req: SecurityGroupCreate): Promise<SecurityGroup> {
    validateGroupName(req.name);
    const rules = this.withIds([], req.rules ?? []);
    const existing = await this.records(project);
    this.checkPeers(rules, new Set([...existing.map((g) => g.name), req.name]));
    const rec: GroupRecord = { name: req.name, project, description: req.description ?? '', rules, createdAt: new Date().toISOString() };
    try {
      await this.d.store.put(groupKey(project, rec.name), rec, { expectRevision: 0 });
    } catch (e) {
      if (e instanceof NimboError && e.code === 'Conflict') throw conflict(`security group ${rec.name} already exists`);
      throw e;
    }
    await this.apply();
    return this.view(project, rec.name);
  }

  /** Delete a group that no NIC uses and no other group refers to. */
  async delete(project: string, name: string): Promise<void> {
    await this.recordOf(project, name);
    if (name === DEFAULT_GROUP) throw conflict('the default security group cannot be deleted');
    const users = await this.attachments(project, name);
    if (users.length > 0) throw conflict(`security group ${name} is attached to ${users.join(', ')}; detach it first`);
    for (const g of await this.records(project)) {
      if (g.name !== name && g.rules.some((r) => peerGroup(r) === name)) throw conflict(`security group ${g.name} refers to ${name} in its rules`);
    }
    await this.d.store.delete(groupKey(project, name));
    await this.apply();
  }

  /** Add rules to a group; applied live to every NIC that has it. */
  async addRules(project: string, name: string, add: SecurityRule[]): Promise<SecurityGroup> {
    const names = new Set((await this.records(project)).map((x) => x.name));
    await casUpdate<GroupRecord>(this.d.store, groupKey(project, name), (g) => {
      if (!g) throw notFound(`security group ${name}`);
      const rules = [...g.rules, ...this.withIds(g.rules, add)];
      this.checkPeers(rules, names);
      return { ...g, rules };
    });
    await this.apply();
    return this.view(project, name);
  }

  /** Remove a rule by id; established connections it allowed go on, new ones are refused. */
  async deleteRule(project: string, name: string, id: string): Promise<SecurityGroup> {
    await casUpdate<GroupRecord>(this.d.store, groupKey(project, name), (g) => {
      if (!g) throw notFound(`security group ${name}`);
      if (!g.rules.some((r) => r.id === id)) throw notFound(`rule ${id} in security group ${name}`);
      return { ...g, rules: g.rules.filter((r) => r.id !== id) };
    });
    await this.apply();
    return this.view(project, name);
  }

  /** Attach or detach a group on an instance's NICs (all of them, or one); group and instance are of one project. */
  async setAttached(project: string, name: string, instance: string, nic: string | undefined, attached: boolean): Promise<SecurityGroup> {
    await this.recordOf(project, name);
    // Compare-and-swap on the instance record: a NIC hot-plugged or a state written meanwhile is kept (retried).
    await casUpdate<InstanceRecord>(this.d.store, keys.instance(project, instance), (rec) => {
      if (!rec) throw notFound(`instance ${instance}`);
      if (nic !== undefined && !rec.nics.some((n) => n.name === nic)) throw notFound(`NIC ${nic} of instance ${instance}`);
      let changed = false;
      const nics = rec.nics.map((n) => {
        if (nic !== undefined && n.name !== nic) return n;
        const has = (n.securityGroups ?? []).includes(name);
        if (has === attached) return n;
        changed = true;
        return { ...n, securityGroups: attached ? [...(n.securityGroups ?? []), name] : (n.securityGroups ?? []).filter((x) => x !== name) };
      });
      if (!changed) throw conflict(`security group ${name} is ${attached ? 'already attached to' : 'not attached to'} ${nic ? `${instance}/${nic}` : instance}`);
      return { ...rec, nics };
    });
    await this.apply();
    return this.view(project, name);
  }

  /** Check that group names exist in the project; a bad name is a 400, an unknown one a 404. */
  async assertGroups(project: string, names: string[]): Promise<void> {
    if (names.includes(DEFAULT_GROUP)) await this.init(project);
    for (const n of names) await this.recordOf(project, n);
  }

  private withIds(existing: Rule[], add: SecurityRule[]): (Rule & { description?: string })[] {
    const ids = new Set(existing.map((r) => r.id));
    let next = existing.length + 1;
    return add.map((r) => {
      let id = r.id;
      if (id === undefined) {
        while (ids.has(`r${next}`)) next++;
        id = `r${next}`;
      } else if (ids.has(id)) throw conflict(`rule id ${id} is already used in this group`);
      ids.add(id);
      return ruleFromApi(r, id);
    });
  }

  private checkPeers(rules: Rule[], names: Set<string>): void {
    for (const r of rules) {
      const g = peerGroup(r);
      if (g !== undefined && !names.has(g)) throw invalid(`rule ${r.id} refers to unknown security group ${g}`);
    }
  }

  /** The whole policy as the store has it now. */
  async policy(): Promise<FirewallPolicy> {
    // One ruleset for the host: every project's groups, under host-wide names (a group peer is of the rule's project).
    const groups: GroupModel[] = (await this.d.store.list<GroupRecord>(keys.allSecgroups)).map((k) => {
      const project = projectOfKey(k.key) ?? DEFAULT_PROJECT;
      const g = k.value;
      return { name: modelGroupName(project, g.name), rules: g.rules.map(({ description: _d, ...r }) => inProject(project, r)) };
    });
    const instances = await this.allInstances();
    const ports = instances.flatMap((i) =>
      i.nics.map((n) => ({ tap: n.tap, mac: n.mac, ipv4: [n.address.split('/')[0]!], ipv6: n.ipv6 ? [n.ipv6] : [], groups: (n.securityGroups ?? []).map((g) => modelGroupName(i.project!, g)) })),
    );
    const v = validateFirewall(groups, ports);
    const metadata = this.metadata ? { metadata: await this.metadata.endpoints(instances) } : {};
    return { groups: v.groups, ports: v.ports, ...(await forwardPolicy(this.d.store, instances)), ...metadata };
  }

  /** Render the policy from the store and apply it atomically (calls run one after another); then the metadata listeners follow. */
  apply(): Promise<void> {
    const run = this.queue.then(async () => {
      await this.driver.setPolicy(this.d.config.prefix, await this.policy());
      await this.metadata?.serve();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** A rule with its group peers renamed to their host-wide names. */
function inProject(project: string, r: Rule): Rule {
  const peer = (p: Rule['source']) => (p === undefined || typeof p === 'string' ? p : { group: modelGroupName(project, p.group) });
  return { ...r, ...(r.source !== undefined ? { source: peer(r.source)! } : {}), ...(r.destination !== undefined ? { destination: peer(r.destination)! } : {}) };
}

function peerGroup(r: Rule): string | undefined {
  const p = r.source ?? r.destination;
  return p !== undefined && typeof p !== 'string' ? p.group : undefined;
}
