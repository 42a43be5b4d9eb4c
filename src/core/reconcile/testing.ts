// A ReconcileHost for unit tests: records in an in-memory SqliteStore, one fake driver, store-key locks.
import { randomUUID } from 'node:crypto';
import type { InstanceSpec } from '../../drivers/compute/instance-driver.js';
import { FakeInstanceDriver } from '../../drivers/compute/testing/fake-driver.js';
import { isRevisionConflict } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import { casUpdate } from '../../store/cas.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { InstanceRecord } from '../instance-record.js';
import type { BootSource, ReconcileHost } from './ports.js';

const key = (uuid: string) => `/instances/${uuid}`;
const lockOf = (uuid: string) => `/locks/instance/${uuid}`;

/** The test host: what the daemon would lend the reconciler, over a real (in-memory) store. */
export class TestReconcileHost implements ReconcileHost {
  readonly store = new SqliteStore(':memory:');
  readonly events: { name: string; data: Record<string, unknown> }[] = [];
  readonly starts: { name: string; at: number }[] = [];
  /** Make the next n starts fail with this message. */
  failStarts = 0;
  log = silentLogger();

  constructor(readonly driver: FakeInstanceDriver = new FakeInstanceDriver()) {}

  /** Store a record (defaults: a running VM-like instance) and, when it should be live, start its fake process. */
  async add(r: Partial<InstanceRecord> & { name: string }, live = (r.state ?? 'running') === 'running' || r.state === 'paused'): Promise<InstanceRecord> {
    const uuid = r.uuid ?? randomUUID();
    const rec: InstanceRecord = {
      uuid,
      type: 'vm',
      image: 'tiny',
      cpus: 1,
      memory: 64 << 20,
      disk: 0,
      sshKeys: [],
      state: 'running',
      accelerator: 'tcg',
      nics: [],
      createdAt: new Date().toISOString(),
      hostIds: { runDir: `/run/${uuid}`, instanceDir: `/inst/${uuid}` },
      ...r,
    };
    await this.store.put(key(uuid), rec);
    if (live) {
      await this.driver.start(this.specOf(rec));
      if (rec.state === 'paused') await this.driver.pause(this.refOf(rec));
    }
    return rec;
  }

  async get(uuid: string): Promise<InstanceRecord> {
    return (await this.record(uuid))!;
  }

  /** Hold the instance's lock as an operation would; returns its release. */
  async holdLock(uuid: string): Promise<() => Promise<void>> {
    await this.store.put(lockOf(uuid), { op: 'test' }, { expectRevision: 0 });
    return async () => void (await this.store.delete(lockOf(uuid)));
  }

  specOf(rec: InstanceRecord): InstanceSpec {
    return { ...this.refOf(rec), cpus: rec.cpus, memoryBytes: rec.memory, root: { pool: 'p', volume: `root-${rec.uuid}`, path: '/p' }, nics: rec.nics, volumes: [], networks: new Map() };
  }

  async records(): Promise<InstanceRecord[]> {
    return (await this.store.list<InstanceRecord>('/instances/')).map((kv) => kv.value);
  }
  async record(uuid: string): Promise<InstanceRecord | undefined> {
    return (await this.store.get<InstanceRecord>(key(uuid)))?.value;
  }
  drivers() {
    return [this.driver];
  }
  driverOf() {
    return this.driver;
  }
  refOf(rec: InstanceRecord) {
    return { uuid: rec.uuid, name: rec.name, hostIds: rec.hostIds!, driverConfig: undefined };
  }
  async patch(rec: InstanceRecord, fn: (cur: InstanceRecord) => Partial<InstanceRecord> | undefined): Promise<InstanceRecord | undefined> {
    const r = await casUpdate<InstanceRecord>(this.store, key(rec.uuid), (cur) => {
      if (!cur) return undefined;
      const ch = fn(cur);
      return ch ? { ...cur, ...ch } : undefined;
    });
    return r?.value;
  }
  async tryLock(rec: InstanceRecord): Promise<(() => Promise<void>) | undefined> {
    try {
      const revision = await this.store.put(lockOf(rec.uuid), { op: 'reconcile' }, { expectRevision: 0 });
      return async () => void (await this.store.delete(lockOf(rec.uuid), { expectRevision: revision }));
    } catch (e) {
      if (isRevisionConflict(e)) return undefined;
      throw e;
    }
  }
  async start(rec: InstanceRecord): Promise<void> {
    this.starts.push({ name: rec.name, at: Date.now() });
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error(`cannot start ${rec.name}: injected`);
    }
    await this.driver.start(this.specOf(rec));
  }
  watch(cb: (ev: { record?: InstanceRecord }) => void): () => void {
    return this.store.watch('/instances/', (ev) => cb(ev.type === 'put' ? { record: ev.value as InstanceRecord } : {}));
  }
  publish(rec: InstanceRecord, data: Record<string, unknown>): void {
    this.events.push({ name: rec.name, data });
  }
}

/** A boot source kept in memory: `reboot()` changes the current boot id. */
export class TestBoot implements BootSource {
  saved?: string;
  constructor(public id = 'boot-1', stored?: string) {
    this.saved = stored;
  }
  async current() {
    return this.id;
  }
  async stored() {
    return this.saved;
  }
  async save(id: string) {
    this.saved = id;
  }
}

/** Poll until `check` holds (fails after ms). */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
