import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import type { Store } from '../../store/store.js';
import type { MetadataEndpoint } from '../../drivers/network/types.js';
import { projectOfRecord, type InstanceRecord } from '../instance-record.js';
import { claimPort, listClaims, releasePort } from './metadata-ports.js';
import type { MetadataView } from './metadata-router.js';
import { MetadataServer, type ServedNic } from './metadata-server.js';

/** What the metadata service needs of a network: its bridge and gateway. */
export interface MetadataNetwork {
  name: string;
  /** The project it belongs to (absent: the default project); a NIC names a network of its instance's project. */
  project?: string;
  bridge: string;
  gateway: string;
}

/**
 * The metadata service: a port per instance NIC (claimed in the store), the firewall's endpoints for
 * them, and nimbod's listeners. The firewall calls endpoints() while it renders its policy and serve()
 * once that policy is applied, so claims, nft rules and listeners follow every launch, delete and NIC
 * change without a call of their own.
 */
export class MetadataService {
  private queue: Promise<unknown> = Promise.resolve();
  private last: ServedNic[] = [];
  readonly server: MetadataServer;

  constructor(
    private store: Store,
    private networks: () => Promise<MetadataNetwork[]>,
    private instances: () => Promise<InstanceRecord[]>,
    log: Logger,
  ) {
    // Tokens live as long as this daemon: a restart makes guests ask for a new one, as after an EC2 stop.
    this.server = new MetadataServer((owner, nic) => this.lookup(owner, nic), { secret: randomBytes(32), now: () => Date.now() }, log);
  }

  /** Claim a port for every NIC of `instances` that has none, release ports of NICs gone, and return the endpoints. */
  endpoints(instances: InstanceRecord[]): Promise<MetadataEndpoint[]> {
    const run = this.queue.then(() => this.sync(instances));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Make the listeners match the endpoints of the last endpoints() call (after the firewall applied them). */
  serve(): Promise<void> {
    return this.server.serve(this.last);
  }

  /** Close every listener (daemon shutdown). */
  close(): Promise<void> {
    return this.server.close();
  }

  private async sync(instances: InstanceRecord[]): Promise<MetadataEndpoint[]> {
    const nets = new Map((await this.networks()).map((n) => [`${projectOfRecord(n)}/${n.name}`, n]));
    const claims = await listClaims(this.store);
    const wanted = new Map<string, { rec: InstanceRecord; nic: InstanceRecord['nics'][number] }>();
    for (const rec of instances) for (const nic of rec.nics) if (nets.has(`${projectOfRecord(rec)}/${nic.network}`) && nic.address !== '') wanted.set(`${rec.uuid}/${nic.name}`, { rec, nic });
    const byNic = new Map<string, number>();
    for (const c of claims) {
      const id = `${c.owner}/${c.nic}`;
      if (!wanted.has(id) || byNic.has(id)) await releasePort(this.store, c.port);
      else byNic.set(id, c.port);
    }
    const taken = new Set(byNic.values());
    const served: ServedNic[] = [];
    const eps: MetadataEndpoint[] = [];
    for (const [id, { rec, nic }] of wanted) {
      const port = byNic.get(id) ?? (await claimPort(this.store, rec.uuid, nic.name, taken));
      const net = nets.get(`${projectOfRecord(rec)}/${nic.network}`)!;
      const address = nic.address.split('/')[0]!;
      served.push({ port, gateway: net.gateway, address, owner: rec.uuid, nic: nic.name });
      eps.push({ bridge: net.bridge, address, gateway: net.gateway, port });
    }
    this.last = served;
    return eps;
  }

  /** The data of instance `owner` as its NIC `nic` sees it; undefined when either is gone. */
  async lookup(owner: string, nic: string): Promise<MetadataView | undefined> {
    const rec = (await this.instances()).find((r) => r.uuid === owner);
    const n = rec?.nics.find((x) => x.name === nic);
    if (!rec || !n) return undefined;
    return {
      instanceId: rec.uuid,
      hostname: rec.name,
      image: rec.image,
      cpus: rec.cpus,
      memory: rec.memory,
      localIpv4: n.address.split('/')[0]!,
      mac: n.mac,
      sshKeys: rec.sshKeys,
      ...(rec.userData !== undefined ? { userData: rec.userData } : {}),
      ...(rec.vendorData !== undefined ? { vendorData: rec.vendorData } : {}),
      ...(rec.passwordHash !== undefined ? { passwordHash: rec.passwordHash } : {}),
    };
  }
}
