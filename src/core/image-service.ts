import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Image } from '../shared/api-types.js';
import type { VmBoot } from '../drivers/compute/types.js';
import { conflict, invalid, notFound } from './errors.js';
import type { BaseDeps } from './deps.js';
import { validateName } from './validate.js';
import type { OpContext } from './operations.js';
import { getBuilder } from '../images/catalog.js';
import { importImage } from '../images/import.js';
import { detectOciSource, unpackOciImage, type OciImageConfig } from '../images/oci/index.js';
import type { BuiltImage } from '../images/types.js';

/** An image as kept in the store. */
export interface ImageRecord {
  name: string;
  source: string;
  status: 'building' | 'ready' | 'error';
  createdAt: string;
  built?: BuiltImage;
  error?: string;
}

const key = (name: string) => `/images/${name}`;

/** Images: built-in builders (tiny, debian-12) and imports of qcow2/raw files, each an Operation. */
export class ImageService {
  constructor(private d: BaseDeps, private inUse: (image: string) => Promise<string[]>) {}

  /** After a daemon stop mid-build: drop half-built images and leftover build folders. */
  async recover(): Promise<void> {
    for (const rec of await this.list()) {
      if (rec.status !== 'building') continue;
      rmSync(this.d.paths.image(rec.name), { recursive: true, force: true });
      await this.d.store.delete(key(rec.name));
    }
    for (const entry of readdirSync(this.d.paths.images)) {
      if (/\.build-/.test(entry)) rmSync(join(this.d.paths.images, entry), { recursive: true, force: true });
    }
  }

  /** The API view of a record. */
  view(r: ImageRecord): Image {
    const b = r.built;
    return {
      name: r.name,
      source: r.source,
      format: b?.format ?? '',
      boot: b?.oci ? 'oci' : (b?.boot.kind ?? ''),
      os: b?.os ?? '',
      size: b?.virtualSizeBytes ?? 0,
      status: r.status,
      createdAt: r.createdAt,
    };
  }

  async list(): Promise<ImageRecord[]> {
    return (await this.d.store.list<ImageRecord>('/images/')).map((k) => k.value);
  }

  async get(name: string): Promise<ImageRecord> {
    const kv = await this.d.store.get<ImageRecord>(key(name));
    if (!kv) throw notFound(`image ${name}`);
    return kv.value;
  }

  /** A ready image's files, for launching. */
  async ready(name: string): Promise<BuiltImage & { boot: VmBoot }> {
    const rec = await this.get(name);
    if (rec.status !== 'ready' || !rec.built) throw conflict(`image ${name} is not ready (${rec.status}${rec.error ? `: ${rec.error}` : ''})`);
    return rec.built;
  }

  /** Build a built-in image (tiny, debian-12) as an Operation. */
  async build(name: string, builder: string = name) {
    validateName(name, 'image name');
    const build = getBuilder(builder);
    return this.produce(name, `builtin:${builder}`, (outDir, ctx) =>
      build({ exec: this.d.exec, outDir, force: true, progress: (p: number, m: string) => ctx.progress(p, m) }),
    );
  }

  /** Import a qcow2/raw file from the daemon's host as an Operation. */
  async import(name: string, file: string) {
    validateName(name, 'image name');
    if (!file.startsWith('/')) throw invalid('path must be absolute (the CLI resolves relative paths)');
    if (!existsSync(file)) throw invalid(`file ${file} does not exist on the daemon's host`);
    const oci = await detectOciSource(file);
    if (oci) {
      // An OCI image layout (directory or tar) or a docker-archive: an application image for `launch --app`.
      return this.produce(name, `oci:${file}`, async (outDir, ctx) => {
        const u = await unpackOciImage(this.d.exec, oci, outDir, { progress: (p: number, m: string) => ctx.progress(p, m) });
        const config: OciImageConfig = {
          entrypoint: u.entrypoint, cmd: u.cmd, env: u.env, workingDir: u.workingDir, user: u.user, exposedPorts: u.exposedPorts,
          volumes: u.volumes, labels: u.labels, architecture: u.architecture, os: u.os, ...(u.stopSignal ? { stopSignal: u.stopSignal } : {}),
        };
        return { name, dir: outDir, disk: '', format: 'raw', virtualSizeBytes: u.layerBytes, boot: { kind: 'disk' }, os: `OCI ${u.ref ?? oci.kind} (${u.layerCount} layers)`, oci: { rootfs: u.rootfs, config } };
      });
    }
    return this.produce(name, `import:${file}`, (outDir, ctx) =>
      importImage({ exec: this.d.exec, file, name, outDir, progress: (p: number, m: string) => ctx.progress(p, m) }),
    );
  }

  private async produce(name: string, source: string, make: (outDir: string, ctx: OpContext) => Promise<BuiltImage>) {
    const rec: ImageRecord = { name, source, status: 'building', createdAt: new Date().toISOString() };
    const existing = await this.d.store.get<ImageRecord>(key(name));
    if (existing && existing.value.status !== 'error') throw conflict(`image ${name} already exists`);
    await this.d.store.put(key(name), rec, { expectRevision: existing?.modRevision ?? 0 });
    this.d.events.publish('image', name, { status: 'building' });
    return this.d.ops.start('image.build', `image/${name}`, async (ctx) => {
      const dir = this.d.paths.image(name);
      rmSync(dir, { recursive: true, force: true });
      try {
        const built = await make(dir, ctx);
        const ready: ImageRecord = { ...rec, status: 'ready', built: { ...built, name } };
        await this.d.store.put(key(name), ready);
        this.d.events.publish('image', name, { status: 'ready' });
        return this.view(ready);
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        await this.d.store.delete(key(name));
        this.d.events.publish('image', name, { status: 'error' });
        throw e;
      }
    });
  }

  /** Delete an image (refused while an instance uses it). */
  async remove(name: string) {
    await this.get(name);
    const users = await this.inUse(name);
    if (users.length) throw conflict(`image ${name} is used by ${users.join(', ')}`);
    return this.d.ops.start('image.delete', `image/${name}`, async () => {
      rmSync(this.d.paths.image(name), { recursive: true, force: true });
      await this.d.store.delete(key(name));
      this.d.events.publish('image', name, { status: 'deleted' });
    });
  }
}
