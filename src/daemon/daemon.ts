import { renameSync, writeFileSync, rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { DEFAULTS, statePaths, type DaemonConfig } from '../core/config.js';
import { createLogger, type Logger } from '../lib/log.js';
import { applyStateDirModes } from '../core/state-modes.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { migrateRecords } from '../core/records/migrate.js';
import { EventBus } from '../core/events.js';
import { OperationManager } from '../core/operations.js';
import { ensureFirstAdmin } from '../core/identity/first-admin.js';
import { RealExec } from '../host/exec.js';
import { chooseAccelerator } from './accel.js';
import { BridgeNetworkDriver } from '../drivers/network/bridge/bridge-driver.js';
import { NetworkService } from '../core/network-service.js';
import { FirewallService } from '../core/firewall-service.js';
import { ForwardService } from '../core/forward-service.js';
import { MetadataService } from '../core/metadata/metadata-service.js';
import type { InstanceRecord } from '../core/instance-record.js';
import { DEFAULT_PROJECT, keys, lockTarget } from '../store/keys.js';
import { NimboError } from '../lib/errors.js';
import { InstanceNics } from '../core/instance-nics.js';
import { PrivateImages } from '../core/private-images.js';
import { DriverRegistry, type DriverPorts } from '../drivers/compute/registry.js';
import { ImageService } from '../core/image-service.js';
import { UrlImports } from '../core/image-url-import.js';
import { ImageServer } from '../core/image-server.js';
import { ImageRemotes } from '../core/image-remotes.js';
import { RemoteImageCache } from '../core/image-remote-cache.js';
import { InstanceService } from '../core/instance-service.js';
import { PlanService } from '../core/plans/plan-service.js';
import { QuotaService } from '../core/quota/quota-service.js';
import { Admission } from '../core/quota/admission.js';
import { hostCapacity } from '../host/host-facts.js';
import { InstanceActions } from '../core/instance-actions.js';
import { InstanceRepo } from '../core/instance-repo.js';
import { InstanceRuntime } from '../core/instance-runtime.js';
import { InstanceViews } from '../core/instance-view.js';
import { InstanceProvisioner } from '../core/instance-provision.js';
import { InstanceCopier } from '../core/instance-copy.js';
import { InstanceExec } from '../core/instance-exec.js';
import { InstanceUpdate } from '../core/instance-update.js';
import { StoreLocks } from '../core/locks.js';
import { legacyHostIds } from '../core/host-ids.js';
import { VpsActions } from '../core/vps-actions.js';
import { applyNicLimits } from '../core/instance-nics.js';
import { StorageService } from '../core/storage-service.js';
import { InstanceVolumes } from '../core/instance-volumes.js';
import { InstanceMedia } from '../core/instance-media.js';
import { InstanceSnapshots } from '../core/instance-snapshots.js';
import { SnapshotScheduler } from '../core/snapshot-scheduler.js';
import { makeBackups } from './backup-wiring.js';
import { collectHostInfo } from '../core/host-info.js';
import { buildServer } from '../api/server.js';
import type { BaseDeps } from '../core/deps.js';
import { prepareTls } from './tls.js';
import { shutdownWithin } from './shutdown.js';
import { makeReconciler } from './reconciler-wiring.js';
import { startTrail } from './trail-wiring.js';
import { makeMetrics } from './metrics-wiring.js';

/** A running daemon. */
export interface Daemon {
  url: string;
  /** SHA-256 fingerprint (AB:CD:... form) of the certificate served, when TLS is on. */
  fingerprint?: string;
  app: FastifyInstance;
  log: Logger;
  /** Stop: drain for at most config.shutdownTimeoutMs, then release; true when the drain finished. */
  close(): Promise<boolean>;
}

/** The URL clients use for a listen address: wildcards are reached on loopback. */
export function daemonUrl(host: string, port: number, tls: boolean): string {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${tls ? 'https' : 'http'}://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

/** Start nimbod: state, accelerator, network, re-adoption of running VMs, then the API. */
export async function startDaemon(config: DaemonConfig): Promise<Daemon> {
  // dnsmasq (as nobody), QEMU (per-VM uids) and container id ranges traverse parts of it: see core/state-modes.ts.
  applyStateDirModes(config.stateDir);
  const paths = statePaths(config.stateDir);
  const log = createLogger(config.stateDir);
  const exec = new RealExec();
  // TLS first: a bad --tls-cert/--tls-key is refused before anything on the host changes.
  const tls = await prepareTls(config.tls, exec, paths.tlsDir, config.host, log);
  const store = new SqliteStore(paths.db);
  await migrateRecords(store, { paths, prefix: config.prefix, log }); // before anything reads a record
  const events = new EventBus();
  const ops = new OperationManager(store, events, log);
  await ops.recover();
  await ensureFirstAdmin(store, paths.token, paths.adminCredentials, log);
  // Quotas and the dedicated slices of this host: core 0 and 1 GiB stay the host's.
  const admission = new Admission(store, { ...hostCapacity(), reserveCores: 1, reserveMiB: 1024 });
  const base: BaseDeps = { config, paths, store, ops, events, log, exec, quota: admission };

  const accel = await chooseAccelerator(exec, join(paths.cache, 'accel.json'), log, config.accel);
  log.info({ accelerator: accel.accelerator, reason: accel.reason }, 'accelerator');
  const netDriver = new BridgeNetworkDriver({ exec, logger: log });
  const network = new NetworkService(base, netDriver);
  const metadata = new MetadataService(store, () => network.allRecords(), async () => (await store.list<InstanceRecord>(keys.allInstances)).map((kv) => kv.value), log);
  const firewall = new FirewallService(base, netDriver, metadata);
  await network.init(() => firewall.policy());
  await firewall.init();
  const forwards = new ForwardService(base, () => firewall.apply());
  const storage = new StorageService(base);
  await storage.ensureDefault();
  let instances!: InstanceService;
  const images = new ImageService(base, (img) => instances.usersOf(img));
  await images.recover();
  const imageRemotes = new ImageRemotes(base);
  const remoteImages = new RemoteImageCache(base, images, imageRemotes);
  images.remote = remoteImages;
  const imageFetch = { urlImports: new UrlImports(base, images), imageServer: new ImageServer(images, config.imageServer === true), imageRemotes, remoteImages };
  // The instance drivers (qemu, runc, ...): the registry loads each; one that cannot run here keeps its reason.
  const ports: DriverPorts = {
    exec,
    log,
    network: {
      createTap: (tap, net, owner) => network.createTap(tap, net, owner),
      deleteTap: (tap) => network.deleteTap(tap),
      tapExists: (tap) => network.tapExists(tap),
      plugNetns: (ns, nics, setup) => network.plugNetns(ns, nics, setup),
      applyLimits: (nic) => applyNicLimits(exec, nic),
    },
  };
  const drivers = await DriverRegistry.open(ports, {
    stateDir: config.stateDir,
    prefix: config.prefix,
    qemuUser: config.qemuUser,
    accelerator: accel.accelerator,
    ...(config.qemuBinaries ? { qemuBinaries: config.qemuBinaries } : {}),
    containerRuntime: config.containerRuntime ?? 'runc',
  });
  // Plans (built-ins seeded at the first start) and project quotas.
  const plans = new PlanService(store);
  await plans.seed();
  const quotas = new QuotaService(store);
  const repo = new InstanceRepo(store, events, admission);
  const runtime = new InstanceRuntime({ ...base, drivers, storage, network, images, slices: admission });
  const views = new InstanceViews(runtime);
  const instanceNics = new InstanceNics(runtime, repo, views, firewall, forwards);
  const privateImages = new PrivateImages(base, images, repo, runtime, (ref) => instances.usersOf(ref));
  const provisioner = new InstanceProvisioner(runtime, repo, instanceNics);
  instances = new InstanceService(runtime, repo, provisioner, views, instanceNics, accel, plans);
  const instanceVolumes = new InstanceVolumes(runtime, repo, storage);
  const media = new InstanceMedia(runtime, repo, views);
  const snapshots = new InstanceSnapshots(runtime, repo, storage);
  const copier = new InstanceCopier(runtime, repo, provisioner, views, instanceNics, snapshots);
  const instanceExec = new InstanceExec(runtime);
  const actions = new InstanceActions(runtime, repo, views, provisioner, instanceNics, {
    dropForwards: (project, name) => forwards.dropNic(project, name),
    releaseVolumes: (rec) => instanceVolumes.releaseAll(rec),
    forgetSnapshots: (project, name) => snapshots.forget(project, name),
  });
  // PATCH of instances (rename, CPUs/memory: charged to the quota), for the API and the VPS actions alike.
  const instanceUpdate = new InstanceUpdate({
    store, locks: new StoreLocks(store), log, daemonId: ops.daemonId, quota: admission,
    refreshNetwork: (project, net) => network.refreshReservations(project, net),
    applyFirewall: () => firewall.apply(),
    publish: (type, target, data, project) => events.publish(type, target, data, project),
    legacyHostIds: (name) => legacyHostIds(paths, config.prefix, name),
    lockTargets: (rec) => [lockTarget.instance(rec.uuid)],
  });
  // VPS actions reuse the lifecycle actions, the PATCH path (rename, CPUs/memory) and the volume PATCH (disk grow).
  const vpsActions = new VpsActions({
    runtime, repo, views, provisioner, actions, volumes: instanceVolumes, exec: instanceExec, nics: instanceNics,
    plans: { get: (name) => plans.record(name).catch((e: unknown) => { if (e instanceof NimboError && e.code === 'NotFound') return undefined; throw e; }) },
    update: instanceUpdate,
  });
  const scheduler = new SnapshotScheduler(repo, snapshots, log);
  scheduler.start();
  const backups = makeBackups({ base, runtime, repo, provisioner, views, nics: instanceNics, actions });
  backups.start();
  await firewall.apply(); // the whole ruleset, once, from the store
  // The reconciler: desired state at daemon start / after a host reboot, on driver events, record changes and a slow resync.
  const reconciler = makeReconciler({ store, events, log, repo, runtime, drivers });
  await reconciler.start();

  // Audit log, webhooks, metering; rate limits go to the API below.
  const trail = await startTrail({ config, paths, store, events, log, repo, storage });
  // Metrics: a sample every 10 s (GET /metrics renders the latest), history files under STATE/metrics.
  const metrics = makeMetrics({ stateDir: config.stateDir, repo, runtime, storage, ops, log });
  metrics.start();
  const app = await buildServer({
    ...base,
    images,
    instances,
    actions,
    network,
    firewall,
    forwards,
    instanceNics,
    copier,
    instanceExec,
    storage,
    instanceVolumes,
    media,
    snapshots,
    plans,
    quotas,
    vpsActions,
    instanceUpdate,
    privateImages,
    ...imageFetch,
    backups: backups.api,
    hostInfo: async () => collectHostInfo(exec, config, accel, await network.spec(DEFAULT_PROJECT, 'default')),
    ...trail.services,
    metrics: metrics.service,
  }, { ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}), ...trail.server });
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = daemonUrl(config.host, port, !!tls);
  // The fingerprint lets a local CLI pin the certificate it reads from here (the state dir is root's).
  const record = { url, pid: process.pid, prefix: config.prefix, ...(tls ? { fingerprint: tls.fingerprint } : {}) };
  writeFileSync(`${paths.daemonJson}.tmp`, JSON.stringify(record) + '\n');
  renameSync(`${paths.daemonJson}.tmp`, paths.daemonJson); // readers never see a half-written file
  writeFileSync(paths.pidFile, `${process.pid}\n`);
  log.info({ url, stateDir: config.stateDir, prefix: config.prefix, ...(tls ? { tls: tls.source, certFile: tls.certFile, fingerprint: tls.fingerprint } : {}) }, 'nimbod listening');

  let closing: Promise<boolean> | undefined;
  const steps = {
    async drain() {
      scheduler.stop();
      await backups.stop();
      reconciler.close();
      await app.close();
      await metadata.close();
      await ops.drain();
      await trail.stop(); // the shutdown checkpoint of the meter
      await metrics.stop(); // the history files, up to the last sample
    },
    async release() {
      drivers.close();
      await store.close();
      rmSync(paths.pidFile, { force: true });
      log.info('nimbod stopped (instances keep running)');
    },
  };
  return {
    url,
    fingerprint: tls?.fingerprint,
    app,
    log,
    close() {
      closing ??= shutdownWithin(steps, config.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutS * 1000, log);
      return closing;
    },
  };
}
