// A project's private images: made from one of its stopped VMs (its root disk flattened into a standalone
// qcow2, kernel and initrd copied for a direct boot), seen and launched only in that project, where they
// come before a public image of the same name (ImageService.resolve).
import type { VmBoot } from '../drivers/compute/types.js';
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Operation } from '../shared/api-types.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { validateName } from '../lib/validate.js';
import { keys } from '../store/keys.js';
import type { BaseDeps } from './deps.js';
import type { ImageRecord, ImageService } from './image-service.js';
import { privateRef } from './image-service.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import { snapshotFromRunning } from './vm-templates.js';

/** The quota charge id of a private image (its disk, in whole GiB). */
const chargeId = (project: string, name: string) => `image/${project}/${name}`;

/** Private images of projects. */
export class PrivateImages {
  constructor(
    private d: BaseDeps,
    private images: ImageService,
    private repo: InstanceRepo,
    private runtime: InstanceRuntime,
    /** Instances that use an image reference (PROJECT/NAME). */
    private inUse: (ref: string) => Promise<string[]>,
  ) {}

  /** Where a private image's files live (root only, 0700). */
  private dir(project: string, name: string): string {
    return join(this.d.paths.images, '.private', project, name); // image names never start with a dot
  }

  /** The private images of a project, by name. */
  async list(project: string): Promise<ImageRecord[]> {
    return (await this.d.store.list<ImageRecord>(keys.privateImages(project))).map((kv) => kv.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One private image; NotFound when the project has none of that name. */
  async get(project: string, name: string): Promise<ImageRecord> {
    const kv = await this.d.store.get<ImageRecord>(keys.privateImage(project, name));
    if (!kv) throw notFound(`private image ${name}`);
    return kv.value;
  }

  /** Make private image `name` from the root disk of stopped VM `instance` (an Operation; the VM stays locked while it runs). */
  async publish(project: string, instance: string, name: string): Promise<Operation> {
    validateName(name, 'image name');
    const rec = await this.repo.record(project, instance);
    if (this.runtime.caps(rec).root !== 'image-clone') throw invalid(`instance ${instance} is a container: an image is made from a VM's disk`);
    if (rec.state !== 'stopped') throw conflict(`instance ${instance} is ${rec.state}: stop it first, so its disk is consistent`);
    if (!rec.root) throw conflict(`instance ${instance} has no root volume`);
    const ref = privateRef(project, name);
    if (await this.d.store.get(keys.privateImage(project, name))) throw conflict(`image ${name} already exists in project ${project}`);
    // Installed from an ISO: its disk boots by itself (the ISO may be gone); else the image's boot and OS.
    const source: { boot: VmBoot; os: string; readyMarker?: string } = rec.cdrom ? { boot: { kind: 'disk' }, os: `installed from ISO ${rec.image}` } : await this.images.ready(rec.image);
    // Its disk counts against the project's disk quota like a volume: 403 before anything is copied.
    const gib = Math.ceil(rec.disk / 1024 ** 3);
    await this.d.quota?.check(project, { diskGiB: gib });
    return this.d.ops.start('image.publish', `image/${name}`, async (ctx) => {
      const now = new Date().toISOString();
      const building: ImageRecord = { name, source: `instance:${instance}`, status: 'building', createdAt: now };
      await this.d.store.put(keys.privateImage(project, name), building, { expectRevision: 0 }).catch(() => {
        throw conflict(`image ${name} already exists in project ${project}`);
      });
      const dir = this.dir(project, name);
      try {
        await this.d.quota?.recharge(chargeId(project, name), project, () => ({ diskGiB: gib }));
        const cur = await this.repo.record(project, instance);
        if (cur.state !== 'stopped') throw conflict(`instance ${instance} is ${cur.state}: stop it first, so its disk is consistent`);
        const root = (await this.runtime.specOf(cur)).root;
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chmodSync(dir, 0o700);
        ctx.progress(10, `copying the disk of ${instance}`);
        // Read through the overlay's backing chain: the image stands alone, whatever happens to its source.
        const disk = join(dir, 'disk.qcow2');
        await this.d.exec.run(['qemu-img', 'convert', '-f', root.format ?? 'qcow2', '-O', 'qcow2', '--', root.path, disk]);
        chmodSync(disk, 0o600);
        let boot = source.boot;
        if (boot.kind === 'direct') {
          const kernel = join(dir, basename(boot.kernel));
          copyFileSync(boot.kernel, kernel);
          const initrd = boot.initrd ? join(dir, basename(boot.initrd)) : undefined;
          if (boot.initrd && initrd) copyFileSync(boot.initrd, initrd);
          const efiKernel = boot.efiKernel ? join(dir, basename(boot.efiKernel)) : undefined;
          if (boot.efiKernel && efiKernel && efiKernel !== kernel) copyFileSync(boot.efiKernel, efiKernel);
          boot = { ...boot, kernel, ...(initrd ? { initrd } : {}), ...(efiKernel ? { efiKernel } : {}) };
        }
        const built = { name: ref, dir, disk, format: 'qcow2' as const, virtualSizeBytes: cur.disk, boot, os: source.os, ...(source.readyMarker ? { readyMarker: source.readyMarker } : {}) };
        await this.d.store.put(keys.privateImage(project, name), { ...building, status: 'ready', built } satisfies ImageRecord);
        this.d.events.publish('image', name, { status: 'ready', from: instance }, project);
        return this.images.view({ ...building, status: 'ready', built }, 'private');
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        await this.d.store.delete(keys.privateImage(project, name));
        await this.d.quota?.recharge(chargeId(project, name), project, () => undefined).catch(() => undefined);
        throw e;
      }
    }, { lockAs: this.runtime.lockOf(rec), project });
  }

  /** Save running VM `instance` as private template image `name` (vm-templates.ts; an Operation). */
  snapshot(project: string, instance: string, name: string): Promise<Operation> {
    return snapshotFromRunning({ d: this.d, images: this.images, repo: this.repo, runtime: this.runtime, dir: (p, n) => this.dir(p, n), chargeId }, project, instance, name);
  }

  /** Delete a private image (refused while an instance uses it). */
  async remove(project: string, name: string): Promise<Operation> {
    await this.get(project, name);
    const users = await this.inUse(privateRef(project, name));
    if (users.length) throw conflict(`image ${name} is used by ${users.join(', ')}`);
    return this.d.ops.start('image.delete', `image/${name}`, async () => {
      rmSync(this.dir(project, name), { recursive: true, force: true });
      await this.d.store.delete(keys.privateImage(project, name));
      await this.d.quota?.recharge(chargeId(project, name), project, () => undefined);
      this.d.events.publish('image', name, { status: 'deleted' }, project);
    }, { project });
  }
}
