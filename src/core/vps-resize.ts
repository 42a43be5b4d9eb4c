// resize: to a plan's size or to explicit vCPUs/memory/disk. CPUs and memory of a stopped instance go through the
// PATCH path; a running one whose driver has liveResize grows live (hot-add) up to the maximum set at launch (a shrink
// needs a stop); the root disk grows through the volume PATCH path (online where the driver has liveDiskResize,
// else in the pool). Shrinking a disk is refused.
import { invalid, conflict, notFound, NimboError, type ErrorCode } from '../lib/errors.js';
import type { Operation } from '../shared/api-types.js';
import type { VpsAction } from '../shared/vps-action-types.js';
import type { VpsActionDeps } from './vps-action-deps.js';
import { actionResult } from './vps-action-result.js';
import { maxCpusOf, maxMemoryOf, type InstanceRecord } from './instance-record.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** How long resize waits for the disk's grow. */
const GROW_WAIT_MS = 10 * 60_000;

/** The size a resize asks for. */
type Want = { vcpus?: number; memoryMiB?: number; diskGiB?: number; plan?: string; class?: 'shared' | 'dedicated'; network?: { inMbit?: number; outMbit?: number } };

/** resize of instances. */
export class VpsResize {
  constructor(private d: Pick<VpsActionDeps, 'runtime' | 'repo' | 'views' | 'update' | 'volumes' | 'plans' | 'nics'>) {}

  /** Check (400 shrink, 404 plan, 409 CPUs/memory while running), then an Operation that applies it. */
  async resize(project: string, name: string, req: VpsAction): Promise<Operation> {
    const want = await this.want(req);
    const rec = await this.d.repo.record(project, name);
    if (rec.slice || want.class === 'dedicated') throw conflict(`instance ${name}: resizing to or from a dedicated plan is not supported yet (its cores are pinned at launch); launch a new instance with the plan`);
    const cpus = want.vcpus !== undefined && want.vcpus !== rec.cpus ? want.vcpus : undefined;
    const memory = want.memoryMiB !== undefined && want.memoryMiB * MiB !== rec.memory ? want.memoryMiB * MiB : undefined;
    const disk = want.diskGiB !== undefined ? want.diskGiB * GiB : undefined;
    if (disk !== undefined && disk < rec.disk) throw invalid(`instance ${name}'s disk is ${rec.disk} bytes: shrinking it to ${disk} is refused, only growing`);
    const sized = cpus !== undefined || memory !== undefined;
    const live = sized && rec.state !== 'stopped';
    if (live) this.checkLive(rec, cpus, memory);
    const grow = disk !== undefined && disk > rec.disk ? disk : undefined;
    const ops = this.d.runtime.d.ops;
    return ops.start('instance.resize', name, async (ctx) => {
      const before = { cpus: rec.cpus, memory: rec.memory };
      const done: string[] = [];
      if (live) {
        // The disk first: if the hot-add then fails, nothing is left to undo (a disk never shrinks; CPUs stay as they were).
        if (grow !== undefined) await this.growDisk(project, name, grow, ctx.progress.bind(ctx), done);
        ctx.progress(70, 'adding CPUs and memory live');
        const driver = this.d.runtime.driverOf(rec);
        const now = await this.d.update.growLive!(project, name, { ...(cpus !== undefined ? { cpus } : {}), ...(memory !== undefined ? { memory } : {}) }, async (cur) => {
          const got = await driver.resizeLive!(this.d.runtime.refOf(cur), {
            cpus: cpus ?? cur.cpus, memoryBytes: memory ?? cur.memory, maxCpus: maxCpusOf(cur), maxMemoryBytes: maxMemoryOf(cur),
          });
          return { cpus: got.cpus, memory: got.memoryBytes };
        });
        if (cpus !== undefined) done.push(`${now.cpus} vCPUs`);
        if (memory !== undefined) done.push(`${now.memory / MiB} MiB memory`);
      } else if (cpus !== undefined || memory !== undefined) {
        await this.d.update.patch(project, name, { ...(cpus !== undefined ? { cpus } : {}), ...(memory !== undefined ? { memory } : {}) });
        if (cpus !== undefined) done.push(`${cpus} vCPUs`);
        if (memory !== undefined) done.push(`${memory / MiB} MiB memory`);
      }
      if (grow !== undefined && !live) {
        try {
          await this.growDisk(project, name, grow, ctx.progress.bind(ctx), done);
        } catch (e) {
          // The disk did not grow: CPUs and memory go back, so the instance is as it was.
          if (cpus !== undefined || memory !== undefined) await this.d.update.patch(project, name, before);
          throw e;
        }
      }
      // The new plan is the instance's from now on (metering counts its hours under it).
      if (want.plan !== undefined && want.plan !== rec.plan) {
        await this.d.repo.patch(project, name, { plan: want.plan });
        done.push(`plan ${want.plan}`);
        // Its NICs get the plan's bandwidth, live (0: unlimited, as at launch).
        const net = { ingress: (want.network?.inMbit ?? 0) * 1_000_000, egress: (want.network?.outMbit ?? 0) * 1_000_000 };
        if (this.d.nics) for (const nic of rec.nics) await this.d.nics.patch(project, name, nic.name, net);
      }
      const next = await this.d.repo.record(project, name);
      const message = done.length ? `${name} now has ${done.join(', ')}` : `${name} has that size already: nothing changed`;
      return actionResult(this.d.views, 'resize', 'now', message, next);
    }, { lockAs: `resize/${rec.uuid}`, project });
  }

  /**
   * A running instance's CPUs/memory: 409 when its driver cannot add them live, 400 past its maximum (naming it),
   * 409 for a shrink (needs a stop). Checked before the Operation starts, so a refusal changes nothing.
   */
  private checkLive(rec: InstanceRecord, cpus: number | undefined, memory: number | undefined): void {
    const name = rec.name;
    const canLive = (rec.state === 'running' || rec.state === 'paused') && this.d.runtime.caps(rec).liveResize === true && this.d.update.growLive !== undefined;
    if (!canLive) throw conflict(`instance ${name} is ${rec.state}: its CPUs and memory change only while it is stopped (shut it down first; a disk alone grows online)`);
    if (cpus !== undefined && cpus > maxCpusOf(rec)) {
      throw invalid(`instance ${name} runs with at most ${maxCpusOf(rec)} vCPUs (its maximum, set at launch with --max-cpus): ${cpus} is refused; stop it to go past the maximum`);
    }
    if (memory !== undefined && memory > maxMemoryOf(rec)) {
      throw invalid(`instance ${name} runs with at most ${maxMemoryOf(rec) / MiB} MiB of memory (its maximum, set at launch with --max-memory): ${memory / MiB} MiB is refused; stop it to go past the maximum`);
    }
    if ((cpus !== undefined && cpus < rec.cpus) || (memory !== undefined && memory < rec.memory)) {
      throw conflict(`instance ${name} is ${rec.state}: its CPUs and memory only grow while it runs; shrinking them needs a stop`);
    }
  }

  /** Grow the root disk through the volume PATCH path and wait for it. */
  private async growDisk(project: string, name: string, grow: number, progress: (p: number, m?: string) => void, done: string[]): Promise<void> {
    const ops = this.d.runtime.d.ops;
    const cur = await this.d.repo.record(project, name);
    progress(40, `growing the disk to ${grow / GiB} GiB`);
    const op = await this.d.volumes.patchVolume(project, cur.root!.pool, cur.root!.volume, { size: grow });
    const end = await ops.wait(op.id, GROW_WAIT_MS);
    if (end.status !== 'success') throw new NimboError((end.error?.code ?? 'Internal') as ErrorCode, end.error?.message ?? `growing the disk ended ${end.status}`);
    done.push(`a ${grow / GiB} GiB disk`);
  }

  /** The size asked for: a plan's, or the explicit fields (not both); 400 when there is nothing. */
  private async want(req: VpsAction): Promise<Want> {
    const explicit = req.vcpus !== undefined || req.memoryMiB !== undefined || req.diskGiB !== undefined;
    if (req.plan !== undefined) {
      if (explicit) throw invalid('resize takes a plan or vcpus/memoryMiB/diskGiB, not both');
      if (!this.d.plans) throw invalid('this daemon has no plans: give vcpus, memoryMiB or diskGiB');
      const plan = await this.d.plans.get(req.plan);
      if (!plan) throw notFound(`plan ${req.plan}`);
      return { vcpus: plan.vcpus, memoryMiB: plan.memoryMiB, diskGiB: plan.diskGiB, plan: req.plan, ...(plan.class ? { class: plan.class } : {}), ...(plan.network ? { network: plan.network } : {}) };
    }
    if (!explicit) throw invalid('resize needs a plan, or vcpus, memoryMiB or diskGiB');
    return { ...(req.vcpus !== undefined ? { vcpus: req.vcpus } : {}), ...(req.memoryMiB !== undefined ? { memoryMiB: req.memoryMiB } : {}), ...(req.diskGiB !== undefined ? { diskGiB: req.diskGiB } : {}) };
  }
}
