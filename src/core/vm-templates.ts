// Booted templates: `image snapshot NAME --from-running VM` saves a running VM (memory + device state and its
// disk at the same instant) as a private image of its project; a launch from it restores that state instead of
// booting (warm start), then the guest agent gives the new guest its own identity (qemu/warm-reseed.ts).
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { InstanceCreate, Operation } from '../shared/api-types.js';
import type { WarmStart } from '../drivers/compute/instance-driver.js';
import type { Accelerator } from '../drivers/compute/types.js';
import type { BuiltImage } from '../images/types.js';
import { conflict, invalid } from '../lib/errors.js';
import { validateName } from '../lib/validate.js';
import { keys } from '../store/keys.js';
import type { BaseDeps } from './deps.js';
import { privateRef, type ImageRecord, type ImageService } from './image-service.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';

/** A template as its image keeps it. */
export type VmTemplate = NonNullable<BuiltImage['template']>;

/** The state file's name in a template image's dir. */
const STATE_FILE = 'state.bin';

/** What snapshotFromRunning needs (PrivateImages' own parts). */
export interface TemplateDeps {
  d: BaseDeps;
  images: ImageService;
  repo: InstanceRepo;
  runtime: InstanceRuntime;
  /** The private image dir of (project, name). */
  dir(project: string, name: string): string;
  /** Its quota charge id. */
  chargeId(project: string, name: string): string;
}

/** Save running VM `instance` as private template image `name` of `project` (an Operation; the VM keeps running). */
export async function snapshotFromRunning(t: TemplateDeps, project: string, instance: string, name: string): Promise<Operation> {
  const { d } = t;
  validateName(name, 'image name');
  const rec = await t.repo.record(project, instance);
  const driver = t.runtime.driverOf(rec);
  if (t.runtime.caps(rec).root !== 'image-clone' || !driver.saveTemplate) throw invalid(`instance ${instance} is a container: a template is saved from a running VM`);
  if (rec.state !== 'running' && rec.state !== 'paused') throw conflict(`instance ${instance} is ${rec.state}: a template is saved from a running VM (start it first, or use image publish for a stopped one)`);
  if (rec.rescue) throw conflict(`instance ${instance} is in rescue mode`);
  if ((rec.volumes ?? []).length) throw conflict(`instance ${instance} has volumes attached: detach them first, a template holds only its root disk`);
  if (rec.nics.some((n) => n.hotplug)) throw conflict(`instance ${instance} has hot-plugged NICs: a template's NICs must be its boot NICs`);
  if (await d.store.get(keys.privateImage(project, name))) throw conflict(`image ${name} already exists in project ${project}`);
  const source = await t.images.ready(rec.image);
  if (source.template) throw conflict(`instance ${instance} was launched from template ${rec.image}: save templates from VMs booted from a disk image`);
  // Its disk and its memory count against the project's disk quota: 403 before anything is written.
  const gib = Math.ceil((rec.disk + rec.memory) / 1024 ** 3);
  await d.quota?.check(project, { diskGiB: gib });
  return d.ops.start('image.snapshot', `image/${name}`, async (ctx) => {
    const building: ImageRecord = { name, source: `running:${instance}`, status: 'building', createdAt: new Date().toISOString() };
    await d.store.put(keys.privateImage(project, name), building, { expectRevision: 0 }).catch(() => {
      throw conflict(`image ${name} already exists in project ${project}`);
    });
    const dir = t.dir(project, name);
    try {
      await d.quota?.recharge(t.chargeId(project, name), project, () => ({ diskGiB: gib }));
      const cur = await t.repo.record(project, instance);
      if (cur.state !== 'running' && cur.state !== 'paused') throw conflict(`instance ${instance} is ${cur.state}: a template is saved from a running VM`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const disk = join(dir, 'disk.qcow2');
      const stateFile = join(dir, STATE_FILE);
      const shape = await driver.saveTemplate!(await t.runtime.specOf(cur, { boot: true }), { stateFile, disk }, (p, m) => ctx.progress(p, m));
      ctx.progress(90, 'copying the boot files');
      let boot = source.boot;
      if (boot.kind === 'direct') {
        // The same kernel and initrd: the saved state holds the memory they were loaded into.
        const kernel = join(dir, basename(boot.kernel));
        copyFileSync(boot.kernel, kernel);
        const initrd = boot.initrd ? join(dir, basename(boot.initrd)) : undefined;
        if (boot.initrd && initrd) copyFileSync(boot.initrd, initrd);
        boot = { ...boot, kernel, ...(initrd ? { initrd } : {}) };
      }
      const built: BuiltImage = {
        name: privateRef(project, name), dir, disk, format: 'qcow2', virtualSizeBytes: cur.disk, boot, os: source.os,
        ...(source.readyMarker ? { readyMarker: source.readyMarker } : {}),
        template: { ...shape, stateFile, source: instance },
      };
      const ready: ImageRecord = { ...building, status: 'ready', built };
      await d.store.put(keys.privateImage(project, name), ready);
      d.events.publish('image', name, { status: 'ready', from: instance }, project);
      return t.images.view(ready, 'private');
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      await d.store.delete(keys.privateImage(project, name));
      await d.quota?.recharge(t.chargeId(project, name), project, () => undefined).catch(() => undefined);
      throw e;
    }
  }, { lockAs: t.runtime.lockOf(rec), project });
}

/**
 * A launch request checked against a template (before anything is made): a VM with the template's exact CPU count,
 * memory and NIC count, on a host with its accelerator. Returns the sizes the record gets.
 */
export function templateLaunchShape(tpl: VmTemplate, req: Pick<InstanceCreate, 'type' | 'app' | 'cpus' | 'memory' | 'nics' | 'image'>, memory: number | undefined, hostAccel: Accelerator | 'none'): { cpus: number; memory: number } {
  if (req.type === 'container' || req.app !== undefined) throw invalid(`image ${req.image} is a VM template: launch it as a VM`);
  if (req.cpus !== undefined && req.cpus !== tpl.cpus) throw invalid(`image ${req.image} is a template of a VM with ${tpl.cpus} CPU(s): its launches get exactly that (asked: ${req.cpus})`);
  if (memory !== undefined && memory !== tpl.memoryBytes) throw invalid(`image ${req.image} is a template of a VM with ${tpl.memoryBytes / 1024 ** 2} MiB of memory: its launches get exactly that`);
  const nics = (req.nics ?? [{ network: 'default' }]).length;
  if (nics !== tpl.nicMacs.length) throw invalid(`image ${req.image} is a template of a VM with ${tpl.nicMacs.length} NIC(s): give exactly that many (asked: ${nics})`);
  if (hostAccel !== tpl.accelerator) throw conflict(`image ${req.image} was saved under ${tpl.accelerator}; this host runs VMs under ${hostAccel}`);
  return { cpus: tpl.cpus, memory: tpl.memoryBytes };
}

/** The warm start of a new instance of template `tpl` (its seed files from the provisioner). */
export function warmStartOf(tpl: VmTemplate, seed: Record<string, string>, readyMarker?: string): WarmStart {
  return { stateFile: tpl.stateFile, seed, templateMacs: [...tpl.nicMacs], ...(readyMarker ? { readyMarker } : {}) };
}
