// Test fixture: the real instance core, wired like daemon.ts, over a real SqliteStore in a temp dir.
// Faked is only what touches the host: two FakeInstanceDrivers (qemu: VM-like, runc: container-like), an
// in-memory storage pool per pool record, the network driver (no bridges, taps or nft) and exec.
// Real: NetworkService (IPAM), FirewallService, ForwardService, StorageService (claims, metadata),
// ImageService (over image records written here), and every instance service.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { EventBus } from '../events.js';
import { silentLogger } from '../../lib/log.js';
import { notFound } from '../../lib/errors.js';
import { OperationManager } from '../operations.js';
import { statePaths, type DaemonConfig } from '../config.js';
import { FakeExec } from '../../host/fake-exec.js';
import type { NetworkDriver } from '../../drivers/network/types.js';
import type { StorageCapabilities } from '../../drivers/storage/types.js';
import { NetworkService } from '../network-service.js';
import { FirewallService } from '../firewall-service.js';
import { ForwardService } from '../forward-service.js';
import { StorageService } from '../storage-service.js';
import { ImageService } from '../image-service.js';
import { DriverRegistry } from '../../drivers/compute/registry.js';
import { FakeInstanceDriver } from '../../drivers/compute/testing/fake-driver.js';
import { InstanceRepo } from '../instance-repo.js';
import { InstanceRuntime } from '../instance-runtime.js';
import { InstanceViews } from '../instance-view.js';
import { InstanceNics } from '../instance-nics.js';
import { InstanceProvisioner } from '../instance-provision.js';
import { InstanceService } from '../instance-service.js';
import { InstanceVolumes } from '../instance-volumes.js';
import { InstanceSnapshots } from '../instance-snapshots.js';
import { InstanceCopier } from '../instance-copy.js';
import { InstanceActions } from '../instance-actions.js';
import type { BaseDeps } from '../deps.js';
import type { InstanceCreate, Operation } from '../../shared/api-types.js';
import type { BuiltImage } from '../../images/types.js';
import type { VolumeMeta } from '../storage-service.js';
import { FakePoolDriver } from './fake-pool.js';
import { DEFAULT_PROJECT, keys } from '../../store/keys.js';
import { PlanService } from '../plans/plan-service.js';
import { QuotaService } from '../quota/quota-service.js';
import { Admission } from '../quota/admission.js';
import type { SliceHost } from '../plans/slices.js';

const MiB = 1024 ** 2;
/** Size of the fixture's `tiny` image. */
export const TINY_BYTES = 64 * MiB;

/** Options of the fixture: extra pools (name → capabilities). */
export interface CoreFixtureOptions {
  pools?: Record<string, Partial<StorageCapabilities>>;
  /** The host dedicated slices are carved from (default: 4 cores, 8 GiB, core 0 and 1 GiB kept). */
  sliceHost?: SliceHost;
  /** false: no quota admission at all (benchmarks compare against it); default true. */
  quota?: boolean;
}

/** A network driver that changes nothing; taps "exist" when a fake instance driver made them. */
function fakeNetworkDriver(hasTap: (tap: string) => boolean): NetworkDriver {
  return {
    ensure: async () => {},
    setReservations: async () => {},
    remove: async () => {},
    applyFirewall: async () => {},
    setPolicy: async () => {},
    removeFirewall: async () => {},
    createTap: async () => {},
    deleteTap: async () => {},
    plugNetns: async () => {},
    tapExists: async (tap) => hasTap(tap),
  };
}

/** Methods of real services that a test may make fail (wrapped, counted). */
const WRAPPED = {
  repo: ['create', 'put', 'patch', 'delete'],
  network: ['allocate', 'release'],
  storage: ['setMeta', 'updateMeta', 'claim'],
  firewall: ['apply'],
} as const;
export type WrappedTarget = keyof typeof WRAPPED;

/** The whole instance core over fakes of the host; `done()` removes the temp dir. */
export async function coreFixture(opts: CoreFixtureOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-core-'));
  const paths = statePaths(dir);
  const config: DaemonConfig = { stateDir: dir, host: '127.0.0.1', port: 0, prefix: 'nt', subnet: '10.77.0.0/24', qemuUser: 'nobody' };
  const store = new SqliteStore(paths.db);
  const events = new EventBus();
  const log = silentLogger();
  const ops = new OperationManager(store, events, log);
  // tc and ip (NIC bandwidth limits) see no qdiscs and no devices.
  const exec = new FakeExec().on(['ip'], { stdout: '[]' }).on(['tc'], { stdout: '[]' });
  const admission = new Admission(store, opts.sliceHost ?? { cpus: 4, memoryMiB: 8192, reserveCores: 1, reserveMiB: 1024 });
  const base: BaseDeps = { config, paths, store, ops, events, log, exec, ...(opts.quota === false ? {} : { quota: admission }) };

  const qemu = new FakeInstanceDriver({ preset: 'vm', name: 'qemu' });
  const runc = new FakeInstanceDriver({ preset: 'container', name: 'runc' });
  const netDriver = fakeNetworkDriver((tap) => qemu.host.taps.has(tap) || runc.host.taps.has(tap));
  const network = new NetworkService(base, netDriver);
  const firewall = new FirewallService(base, netDriver);
  await network.init(() => firewall.policy());
  await firewall.init();
  const forwards = new ForwardService(base, () => firewall.apply());

  // Pools: records in the store (as the real service keeps them), bytes in memory.
  const storage = new StorageService(base);
  const pools = new Map<string, FakePoolDriver>();
  for (const [name, caps] of Object.entries({ default: {}, ...opts.pools })) {
    const spec = { name, driver: 'dir' as const, path: join(dir, 'pools', name), options: { format: 'qcow2' as const } };
    await store.put(`/pools/${name}`, { ...spec, createdAt: new Date().toISOString() });
    pools.set(name, new FakePoolDriver(spec, caps));
  }
  storage.driver = async (pool) => {
    const p = pools.get(pool);
    if (!p) throw notFound(`storage pool ${pool}`);
    return p;
  };

  // Images: one ready VM image, `tiny`, whose tree is already unpacked (a container root over it extracts nothing).
  const imgDir = join(paths.images, 'tiny');
  mkdirSync(join(imgDir, 'rootfs.tree', 'root'), { recursive: true });
  const tiny: BuiltImage = { name: 'tiny', dir: imgDir, disk: join(imgDir, 'disk.qcow2'), format: 'qcow2', virtualSizeBytes: TINY_BYTES, boot: { kind: 'disk' }, os: 'test' };
  await store.put(keys.image('tiny'), { name: 'tiny', source: 'builtin:tiny', status: 'ready', createdAt: new Date().toISOString(), built: tiny });
  let instances!: InstanceService;
  const images = new ImageService(base, (img) => instances.usersOf(img), { names: [], get: () => undefined, blockers: async () => [] });

  const drivers = DriverRegistry.of(qemu, runc);
  const plans = new PlanService(store);
  await plans.seed();
  const quotas = new QuotaService(store);
  const repo = new InstanceRepo(store, events, opts.quota === false ? undefined : admission);
  const runtime = new InstanceRuntime({ ...base, drivers, storage, network, images, slices: admission });
  const views = new InstanceViews(runtime);
  const nics = new InstanceNics(runtime, repo, views, firewall, forwards);
  const provisioner = new InstanceProvisioner(runtime, repo, nics);
  instances = new InstanceService(runtime, repo, provisioner, views, nics, { accelerator: 'tcg', reason: 'test' }, plans);
  const volumes = new InstanceVolumes(runtime, repo, storage);
  const snapshots = new InstanceSnapshots(runtime, repo, storage);
  const copier = new InstanceCopier(runtime, repo, provisioner, views, nics, snapshots);
  const actions = new InstanceActions(runtime, repo, views, provisioner, nics, {
    dropForwards: (project, name) => forwards.dropNic(project, name),
    releaseVolumes: (rec) => volumes.releaseAll(rec),
    forgetSnapshots: (project, name) => snapshots.forget(project, name),
  });

  // Failure injection into the real services: the nth call of a wrapped method from now throws.
  const services: Record<WrappedTarget, object> = { repo, network, storage, firewall };
  const counts = new Map<string, number>();
  const failures = new Map<string, number>();
  for (const [target, methods] of Object.entries(WRAPPED) as [WrappedTarget, readonly string[]][]) {
    const obj = services[target] as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of methods) {
      const orig = obj[m]!.bind(obj);
      const key = `${target}.${m}`;
      obj[m] = async (...args: unknown[]) => {
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        if (failures.get(key) === n) {
          failures.delete(key);
          throw new Error(`injected failure in ${key}`);
        }
        return orig(...args);
      };
    }
  }

  /** Calls so far, as `target.method` → count (fake drivers, pools and wrapped services). */
  const calls = (): Map<string, number> => {
    const out = new Map(counts);
    const bump = (k: string) => out.set(k, (out.get(k) ?? 0) + 1);
    for (const d of [qemu, runc]) for (const j of d.journal) bump(`${d.name}.${j.method}`);
    for (const [name, p] of pools) for (const j of p.journal) bump(`pool:${name}.${j.method}`);
    return out;
  };

  /** Make the nth call from now of `target.method` fail (target: qemu, runc, pool:NAME, or a wrapped service). */
  const failAt = (step: string, nth = 1): void => {
    const [target, method] = step.split('.') as [string, string];
    if (target === 'qemu' || target === 'runc') (target === 'qemu' ? qemu : runc).failAt(method as never, nth);
    else if (target.startsWith('pool:')) pools.get(target.slice(5))!.failAt(method as never, nth);
    else failures.set(step, (counts.get(step) ?? 0) + nth);
  };

  /** Everything a test may compare before and after: store keys and values (operations aside), host objects, pool volumes. */
  const snapshot = async () => ({
    store: Object.fromEntries((await store.list('/')).filter((kv) => !kv.key.startsWith('/operations/')).map((kv) => [kv.key, kv.value])),
    host: [...qemu.host.allLeftovers(), ...runc.host.allLeftovers(), ...[...qemu.host.seeds.keys(), ...runc.host.seeds.keys()].map((u) => `seed ${u}`)].sort(),
    volumes: [...pools].flatMap(([p, d]) => [...d.volumes.keys()].map((v) => `${p}/${v}`)).sort(),
  });

  /** Wait for an operation; its final record. */
  const wait = (op: Operation | { id: string }) => ops.wait(op.id, 10_000);

  /** Create an instance (in `project`, default 'default') and wait: the final operation must succeed. */
  const launch = async (req: InstanceCreate, project = DEFAULT_PROJECT) => {
    const end = await wait(await instances.create(project, req));
    if (end.status !== 'success') throw new Error(`launch ${req.name}: ${end.status} ${JSON.stringify(end.error)}`);
    return repo.record(project, req.name);
  };

  return {
    dir, paths, store, ops, events, exec, qemu, runc, pools, pool: pools.get('default')!, network, firewall, forwards, storage, images,
    repo, runtime, views, nics, provisioner, instances, volumes, snapshots, copier, actions, plans, quotas, admission,
    calls, failAt, snapshot, wait, launch,
    done: async () => {
      await ops.drain();
      qemu.close();
      runc.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The fixture's type. */
export type CoreFixture = Awaited<ReturnType<typeof coreFixture>>;

/** The `target.method#n` steps between two `calls()` maps, except plain reads whose failure nothing depends on. */
export function stepsBetween(before: Map<string, number>, after: Map<string, number>, skip: RegExp = /\.(status|consoleLog)$/): string[] {
  const out: string[] = [];
  for (const [k, n] of after) {
    if (skip.test(k)) continue;
    for (let i = (before.get(k) ?? 0) + 1; i <= n; i++) out.push(`${k}#${i - (before.get(k) ?? 0)}`);
  }
  return out.sort();
}

/**
 * A snapshot without volume metadata that says nothing: a claim given back leaves the default (detached, no
 * limits), which is what a volume without a record has; and a container's volume keeps the id owner its files
 * were shifted to, even when the attach then fails.
 */
export function withoutFreeVolumeMeta<S extends { store: Record<string, unknown> }>(s: S): S {
  const store = Object.entries(s.store).flatMap(([k, v]) => {
    if (!k.startsWith('/volumes/')) return [[k, v]];
    const { idOwner: _, ...m } = v as VolumeMeta;
    return m.attachedTo === null && Object.values(m.limits).every((x) => x === 0) ? [] : [[k, m]];
  });
  return { ...s, store: Object.fromEntries(store) };
}
