import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Instance, InstanceCreate } from '../shared/api-types.js';
import { invalid, NimboError } from '../lib/errors.js';
import { formatSize, parseBoundedSize, validateName } from '../lib/validate.js';
import { parseImageRef } from '../lib/image-ref.js';
import { Reverter } from '../lib/reverter.js';
import { readUserDb, resolveProcess } from '../images/oci/index.js';
import type { ConsoleHandle, DriverCapabilities, InstanceKind, PlanInput } from '../drivers/compute/instance-driver.js';
import type { AccelChoice } from './deps.js';
import { projectOfRecord, type InstanceRecord } from './instance-record.js';
import { DEFAULT_PROJECT } from '../store/keys.js';
import type { InstanceViews } from './instance-view.js';
import type { InstanceRepo, RecordChange } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceProvisioner } from './instance-provision.js';
import type { NicsPort } from './instance-ports.js';
import { validateLabels } from './labels.js';
import { newHostIds } from './host-ids.js';
import { idPort } from './instance-ids.js';
import { instanceCounts, launchPlan, type LaunchPlan } from './plans/launch-plan.js';
import type { PlanRecord } from './plans/plan-record.js';

/** Where create finds a plan by name (core/plans/plan-service.ts). */
export interface PlanLookup {
  record(name: string): Promise<PlanRecord>;
}
import { userDataOf } from './metadata/user-data-input.js';
import { checkIsoLaunch, ISO_DISK_DEFAULT } from './iso-launch.js';
import { launchArch } from './instance-arch.js';
import { DEFAULT_ARCH, nativeArch } from '../shared/arch-types.js';
import { templateLaunchShape, warmStartOf } from './vm-templates.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
export const LIMITS = { memory: { min: 64 * MiB, max: 256 * GiB, def: 512 * MiB }, disk: { min: 16 * MiB, max: 16 * 1024 * GiB, def: 2 * GiB } };

/**
 * The hot-add room of a launch (maxCpus/maxMemory kept only when above the size); 400 for a maximum below the size,
 * or one given to a driver without live resize (containers change size through their cgroup limits while stopped).
 */
export function hotAddRoom(req: Pick<InstanceCreate, 'maxCpus' | 'maxMemory'>, cpus: number, memory: number, caps: Pick<DriverCapabilities, 'liveResize'>): Pick<InstanceRecord, 'maxCpus' | 'maxMemory'> {
  if (req.maxCpus === undefined && req.maxMemory === undefined) return {};
  if (!caps.liveResize) throw invalid('maxCpus and maxMemory are for VMs (hot-add room); a container changes CPUs and memory through its cgroup limits: resize it while stopped');
  const maxMemory = req.maxMemory !== undefined ? parseBoundedSize(req.maxMemory, LIMITS.memory.min, LIMITS.memory.max, 'maxMemory') : undefined;
  if (req.maxCpus !== undefined && req.maxCpus < cpus) throw invalid(`maxCpus ${req.maxCpus} is below cpus ${cpus}: the maximum must be at least the size it starts with`);
  if (maxMemory !== undefined && maxMemory < memory) throw invalid(`maxMemory ${formatSize(maxMemory)} is below memory ${formatSize(memory)}: the maximum must be at least the size it starts with`);
  return {
    ...(req.maxCpus !== undefined && req.maxCpus > cpus ? { maxCpus: req.maxCpus } : {}),
    ...(maxMemory !== undefined && maxMemory > memory ? { maxMemory } : {}),
  };
}

/** Instances: records, API views, and launches (validated here, provisioned by InstanceProvisioner, run by their driver). */
export class InstanceService {
  constructor(
    private runtime: InstanceRuntime,
    private repo: InstanceRepo,
    private provisioner: InstanceProvisioner,
    private views: InstanceViews,
    private nics: NicsPort,
    private accel: AccelChoice,
    private plans?: PlanLookup,
  ) {}

  private get d() {
    return this.runtime.d;
  }

  /** One instance of a project (NotFound when that project has none of the name). */
  record(project: string, name: string): Promise<InstanceRecord> {
    return this.repo.record(project, name);
  }

  /** The instances of one project. */
  records(project: string): Promise<InstanceRecord[]> {
    return this.repo.records(project);
  }

  /** The instances of every project (host-wide loops: the snapshot scheduler, image users). */
  allRecords(): Promise<InstanceRecord[]> {
    return this.repo.allRecords();
  }

  /** Compare-and-swap update of a record (see InstanceRepo.patch). */
  patch(project: string, name: string, change: RecordChange): Promise<InstanceRecord> {
    return this.repo.patch(project, name, change);
  }

  /** The API view, with the live pid, usage and NIC counters (`agent`: and what a running VM's guest agent reports). */
  view(rec: InstanceRecord, opts: { agent?: boolean } = {}): Promise<Instance> {
    return this.views.view(rec, opts);
  }

  /** What the instance's driver can do. */
  capabilities(rec: InstanceRecord): DriverCapabilities {
    return this.runtime.caps(rec);
  }

  /** The instance's console (a serial relay, or a login shell on a pty); Conflict when it does not run. */
  console(rec: InstanceRecord): Promise<ConsoleHandle> {
    return this.runtime.driverOf(rec).console(this.runtime.refOf(rec));
  }

  /** A connection to the instance's VGA console (RFB); Conflict when its driver has none (containers) or it does not run. */
  openVnc(rec: InstanceRecord): Promise<Duplex> {
    const driver = this.runtime.driverOf(rec);
    if (!driver.openVnc) throw new NimboError('Conflict', `instance ${rec.name} has no VGA console (only VMs have one): use its console or exec`);
    return driver.openVnc(this.runtime.refOf(rec));
  }

  /** The last `bytes` of the instance's console log. */
  consoleLog(rec: InstanceRecord, bytes: number): string {
    return this.runtime.driverOf(rec).consoleLog(this.runtime.refOf(rec), bytes);
  }

  /** Instances (of every project: an image is platform-wide) that use an image, as PROJECT/NAME outside 'default'. */
  async usersOf(image: string): Promise<string[]> {
    // A VM installed from an ISO uses the ISO only while it is in its drive.
    return (await this.allRecords()).filter((r) => (r.cdrom ? r.cdrom.image === image : r.image === image)).map((r) => (projectOfRecord(r) === DEFAULT_PROJECT ? r.name : `${projectOfRecord(r)}/${r.name}`));
  }

  /** Validate a create request, reserve the name (charged to `project`'s quota), and run the create as an Operation. */
  async create(project: string, asked: InstanceCreate) {
    const { req, launch, plan } = await this.withPlan(asked);
    validateName(req.name, 'instance name');
    parseImageRef(req.image); // NAME, or REMOTE:NAME (an image remote's, fetched into the cache)
    // The project's own image of that name, else the public one: from here on the image is that reference.
    const image = await this.d.images.resolve(project, req.image);
    const labels = validateLabels(req.labels);
    // A missing built-in image (tiny, debian-12) is built by the create Operation, before anything else.
    const img = await this.d.images.forLaunch(image);
    let memory = parseBoundedSize(req.memory ?? LIMITS.memory.def, LIMITS.memory.min, LIMITS.memory.max, 'memory');
    // A booted template: the launch restores its saved state, so it gets the template's exact shape.
    const tpl = img.template ? templateLaunchShape(img.template, req, req.memory !== undefined ? memory : undefined, this.accel.accelerator) : undefined;
    if (tpl) memory = tpl.memory;
    const kind: InstanceKind = req.type === 'container' || req.app !== undefined ? 'container' : 'vm';
    const driver = this.d.drivers.forKind(kind);
    const caps = driver.capabilities();
    checkIsoLaunch(req, img, caps.kind);
    // A filesystem root's disk is the quota of its root volume (the overlay's upper layer: what it
    // writes, never the shared image tree); without --disk it has none (0 = no limit).
    const disk = caps.root === 'filesystem' && req.disk === undefined ? 0
      : parseBoundedSize(req.disk ?? (req.iso ? ISO_DISK_DEFAULT : Math.max(LIMITS.disk.def, img.virtualSizeBytes)), LIMITS.disk.min, LIMITS.disk.max, 'disk');
    if (caps.root === 'image-clone' && !req.iso && disk < img.virtualSizeBytes) {
      throw new NimboError('InvalidArgument', `disk ${formatSize(disk)} is smaller than image ${req.image} (${formatSize(img.virtualSizeBytes)})`);
    }
    // The architecture: the image's unless asked; refused when they differ or this host cannot run it.
    const arch = launchArch({ asked: req.arch, image: req.image, imageArch: img.arch ?? DEFAULT_ARCH, kind: caps.kind, support: driver.archSupport?.() });
    const nicReqs = req.nics ?? [{ network: 'default' }];
    await this.nics.validateRequests(project, nicReqs);
    const pool = req.pool ?? 'default';
    const poolDriver = await this.d.storage.driver(pool);
    const poolCaps = await poolDriver.capabilities();
    if (caps.root === 'filesystem' && !poolCaps.filesystemVolumes) throw invalid(`pool ${pool} has no filesystem volumes: a container's root needs one`);
    if (caps.root === 'filesystem' && disk > 0 && (!caps.rootQuota || !poolCaps.quotas)) {
      throw invalid(`pool ${pool} (${poolDriver.spec.driver} driver) cannot limit a container's disk (its filesystem volumes have no quotas); use a btrfs pool, or omit --disk`);
    }
    if (img.oci && !req.app) throw new NimboError('InvalidArgument', `image ${req.image} is an OCI application image: launch it with --app`);
    if (req.app && !img.oci) throw new NimboError('InvalidArgument', `image ${req.image} is not an OCI application image (import one with nimbo image import)`);
    const diskRates = { readBps: req.diskReadBps, writeBps: req.diskWriteBps, readIops: req.diskReadIops, writeIops: req.diskWriteIops };
    if (!caps.processLimits && (req.pids !== undefined || req.cpuWeight !== undefined || req.swap !== undefined || Object.values(diskRates).some((v) => v !== undefined))) {
      throw new NimboError('InvalidArgument', 'pids, cpuWeight, swap and the disk rates are container limits');
    }
    const room = hotAddRoom(req, req.cpus ?? 1, memory, caps);
    if (!caps.firmware && (req.firmware !== undefined || req.secureBoot !== undefined || req.tpm !== undefined)) {
      throw new NimboError('InvalidArgument', 'firmware, secureBoot and tpm are VM options');
    }
    if (arch !== DEFAULT_ARCH && (req.firmware !== undefined || req.secureBoot !== undefined || req.tpm !== undefined)) {
      throw new NimboError('InvalidArgument', `firmware, secureBoot and tpm are x86_64 options (an ${arch} VM boots its architecture's own firmware)`);
    }
    if (arch !== DEFAULT_ARCH && (req.maxCpus !== undefined || req.maxMemory !== undefined || req.iso)) {
      throw new NimboError('InvalidArgument', `maxCpus, maxMemory and iso are x86_64 options for now (an ${arch} VM gets neither hot-add room nor a CD-ROM drive)`);
    }
    const uuid = randomUUID();
    const ids = idPort(this.d.store, uuid);
    const planIn: PlanInput = {
      uuid, name: req.name, image, ...ids,
      ...(req.pids !== undefined ? { pids: req.pids } : {}),
      ...(req.cpuWeight !== undefined ? { cpuWeight: req.cpuWeight } : {}),
      ...(req.swap !== undefined ? { swap: req.swap } : {}),
      ...(req.firmware !== undefined ? { firmware: req.firmware } : {}),
      ...(req.secureBoot !== undefined ? { secureBoot: req.secureBoot } : {}),
      ...(req.tpm !== undefined ? { tpm: req.tpm } : {}),
      ...(Object.values(diskRates).some((v) => v !== undefined) ? { diskRates: Object.fromEntries(Object.entries(diskRates).filter(([, v]) => v !== undefined)) } : {}),
      ...(req.app ? { app: await this.appProcess(image, req.app), appUser: req.app.user ?? (await this.d.images.ready(image)).oci?.config.user ?? 'root' } : {}),
    };
    const start = req.start !== false;
    const rec: InstanceRecord = {
      v: 2,
      name: req.name,
      uuid,
      project,
      type: caps.kind,
      driver: driver.name,
      hostIds: newHostIds(this.d.paths, this.d.config.prefix, uuid),
      desired: { power: start ? 'running' : 'stopped', autostart: 'last-state' },
      description: '',
      image,
      cpus: tpl?.cpus ?? req.cpus ?? 1,
      memory,
      ...room,
      disk,
      sshKeys: req.sshKeys ?? [],
      state: 'creating',
      // Another architecture than the host's is always emulated (TCG).
      accelerator: caps.accelerator ? (arch === nativeArch() ? this.accel.accelerator : 'tcg') : 'none',
      ...(caps.kind === 'vm' && arch !== DEFAULT_ARCH ? { arch } : {}),
      nics: [],
      ...(labels ? { labels } : {}),
      ...(plan ? { plan: plan.name } : {}),
      ...userDataOf(req),
      ...(req.iso ? { cdrom: { image } } : {}),
      createdAt: new Date().toISOString(),
    };
    // Driver-only fields are checked (and its host ids reserved) before the name is taken.
    rec.driverConfig = await driver.plan(planIn);
    try {
      await this.repo.create(rec, { project, counts: instanceCounts(rec, plan), ...(launch?.dedicated ? { dedicated: launch.dedicated } : {}) });
    } catch (e) {
      await driver.release(this.runtime.refOf(rec), ids);
      throw e;
    }
    return this.d.ops.start('instance.create', rec.name, async (ctx) => {
      const r = new Reverter(this.d.log, { instance: rec.name, op: 'create' });
      // After a build, the create's own steps share the last 40% of the progress.
      let progress = (p: number, m?: string) => ctx.progress(p, m);
      try {
        r.add('record', () => this.repo.delete(project, rec.name));
        r.add('host ids', () => driver.release(this.runtime.refOf(rec), ids));
        if (img.pending) {
          await this.d.images.ensure(image, (p, m) => ctx.progress(p * 0.6, m && `image ${req.image}: ${m}`), ctx.signal);
          ctx.checkCancelled();
          progress = (p, m) => ctx.progress(60 + p * 0.4, m);
        }
        const plans = nicReqs.map((n, i) => ({ name: `eth${i}`, network: n.network, ...(n.address ? { address: n.address } : {}), securityGroups: n.securityGroups ?? ['default'], ...this.nics.limitsOf(n) }));
        // A new dedicated slice: running shared instances leave its cores now, not only at their next start.
        if (rec.slice) await this.runtime.repinShared(await this.repo.allRecords());
        await this.provisioner.provision(rec, plans, { from: req.iso ? 'empty' : 'image', pool, ...(launch ? { limits: launch.rootLimits } : {}) }, r, progress);
        ctx.checkCancelled();
        if (start) {
          progress(80, 'starting');
          if (img.template) {
            // Warm: restore the template's saved state, then the agent re-seeds the identity (vm-templates.ts).
            const warm = warmStartOf(img.template, await this.provisioner.seed(rec), (await this.d.images.ready(image)).readyMarker);
            await driver.start({ ...(await this.runtime.specOf(rec, { boot: true })), warm });
          } else await this.runtime.start(rec);
          r.add('instance process', () => driver.stop(this.runtime.refOf(rec), { timeoutMs: 0, force: true }));
        }
        const final = await this.repo.patch(project, rec.name, { state: start ? 'running' : 'stopped', nics: rec.nics, ...(rec.root ? { root: rec.root } : {}) });
        r.success();
        return this.view(final);
      } catch (e) {
        await r.revert();
        await this.nics.applyFirewall().catch(() => undefined); // its ports leave the ruleset
        this.d.events.publish('instance', rec.name, { state: 'deleted' }, project);
        throw e;
      }
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** The request with its plan's sizes and limits filled in (unchanged without a plan). */
  private async withPlan(req: InstanceCreate): Promise<{ req: InstanceCreate; launch?: LaunchPlan; plan?: PlanRecord }> {
    if (req.plan === undefined) return { req };
    if (!this.plans) throw invalid('this daemon has no plans');
    const plan = await this.plans.record(req.plan);
    const kind: InstanceKind = req.type === 'container' || req.app !== undefined ? 'container' : 'vm';
    const caps = this.d.drivers.forKind(kind).capabilities();
    const poolCaps = await (await this.d.storage.driver(req.pool ?? 'default')).capabilities();
    const launch = launchPlan(req, plan, { processLimits: caps.processLimits, diskUnenforced: caps.root === 'filesystem' && (!caps.rootQuota || !poolCaps.quotas) });
    return { req: launch.req, launch, plan };
  }

  /** The process of an application container: the image's OCI config with the request's overrides. */
  private async appProcess(image: string, o: NonNullable<InstanceCreate['app']>): Promise<NonNullable<PlanInput['app']>> {
    const img = await this.d.images.ready(image);
    if (!img.oci) throw invalid(`image ${image} is not an OCI application image: launch it as a VM or a system container`);
    const db = await readUserDb(img.oci.rootfs);
    const p = resolveProcess(img.oci.config, o, db.passwd, db.group);
    return { args: p.args, env: p.env, cwd: p.cwd, uid: p.uid, gid: p.gid, restart: o.restart ?? 'never' };
  }
}
