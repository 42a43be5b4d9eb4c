import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Image } from '../shared/api-types.js';
import type { VmBoot } from '../drivers/compute/types.js';
import { NimboError, conflict, invalid, notFound } from '../lib/errors.js';
import type { BaseDeps } from './deps.js';
import { validateName } from '../lib/validate.js';
import type { OpContext, OperationManager } from './operations.js';
import { BUILTIN_NAMES, builtinImage, getBuilder, type BuiltinImage } from '../images/catalog.js';
import { buildBlockers, probeBuildHost } from '../images/build-preflight.js';
import { SharedBuilds, cannotBuild, nextStep } from './image-on-demand.js';
import { importImage } from '../images/import.js';
import { freeBytes, receiveUpload, uploadSize, UPLOAD_MAX_BYTES } from './image-upload.js';
import { detectOciSource, unpackOciImage, type OciImageConfig } from '../images/oci/index.js';
import type { BuiltImage } from '../images/types.js';
import { keys } from '../store/keys.js';
import { DEFAULT_ARCH, type GuestArch } from '../shared/arch-types.js';

/** An image as kept in the store. */
export interface ImageRecord {
  name: string;
  source: string;
  status: 'building' | 'ready' | 'error';
  createdAt: string;
  built?: BuiltImage;
  error?: string;
  /** Images fetched over HTTP or from another daemon: where from and the sha256 of each file (core/image-remote-cache.ts). */
  fetched?: { from: string; sha256: Record<string, string> };
}

/**
 * The store key of an image reference: `NAME` is a public image, `PROJECT/NAME` a project's private one
 * (names never hold a slash, so the two cannot be confused).
 */
const key = (ref: string): string => {
  const slash = ref.indexOf('/');
  return slash < 0 ? keys.image(ref) : keys.privateImage(ref.slice(0, slash), ref.slice(slash + 1));
};

/** The reference of a project's private image. */
export const privateRef = (project: string, name: string) => `${project}/${name}`;

/** What a launch knows of its image before the create Operation runs (the image may be built first). */
export interface LaunchImage {
  virtualSizeBytes: number;
  oci?: BuiltImage['oci'];
  /** An ISO 9660 image (launch --iso only). */
  iso?: boolean;
  /** A booted-VM template: launched warm from its saved state. */
  template?: BuiltImage['template'];
  /** A built-in image that is missing or being built: the create Operation waits for (or starts) its build. */
  pending: boolean;
  /** The guest architecture it is (or will be) built for. */
  arch: GuestArch;
}

/** Where built-in images come from: the catalog, and what this host lacks to build one (unit tests pass fakes). */
export interface BuiltinSource {
  names: readonly string[];
  get(name: string): BuiltinImage | undefined;
  /** Why `image` cannot be built here (empty: it can). */
  blockers(image: BuiltinImage): Promise<string[]>;
}

/** Where images named REMOTE:NAME come from (core/image-remote-cache.ts). */
export interface RemoteImageSource {
  /** Checked before a launch: pending when the cache is missing or older than the remote's copy. */
  forLaunch(ref: string): Promise<LaunchImage>;
  /** Fetch or refresh the cached copy (one fetch per image at a time). */
  ensure(ref: string, progress: (pct: number, message: string) => void, signal?: AbortSignal): Promise<void>;
}

/** The catalog's built-in images, probed on this host. */
export const HOST_BUILTINS: BuiltinSource = {
  names: BUILTIN_NAMES,
  get: builtinImage,
  blockers: async (image) => buildBlockers(image, await probeBuildHost(image)),
};

/** Images: built-in builders (tiny, debian-12) and imports of qcow2/raw files, each an Operation. */
export class ImageService {
  /** Builds and imports that run now: launches that need one of them follow it. */
  private builds = new SharedBuilds();
  /** Images of other daemons (REMOTE:NAME), fetched into this daemon's cache by launches; set by the daemon. */
  remote?: RemoteImageSource;
  constructor(private d: BaseDeps, private inUse: (image: string) => Promise<string[]>, private builtins: BuiltinSource = HOST_BUILTINS) {}

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

  /** The API view of a record (a private one's name is the project's, without the PROJECT/ of its reference). */
  view(r: ImageRecord, visibility: Image['visibility'] = 'public'): Image {
    const b = r.built;
    return {
      name: r.name,
      source: r.source,
      format: b?.format ?? '',
      boot: b?.oci ? 'oci' : (b?.boot.kind ?? ''),
      ...(b ? { type: b.oci ? 'oci' : (b.type ?? 'disk') } : {}),
      os: b?.os ?? '',
      size: b?.virtualSizeBytes ?? 0,
      arch: b?.arch ?? this.builtins.get(r.source.replace(/^builtin:/, ''))?.arch ?? DEFAULT_ARCH,
      status: r.status,
      createdAt: r.createdAt,
      visibility,
      ...(b?.template ? { kind: 'template' as const, template: { cpus: b.template.cpus, memory: b.template.memoryBytes, nics: b.template.nicMacs.length, stateBytes: b.template.stateBytes, from: b.template.source } } : {}),
    };
  }

  async list(): Promise<ImageRecord[]> {
    return (await this.d.store.list<ImageRecord>(keys.images)).map((k) => k.value);
  }

  /** What `name` means in `project`: its private image when it has one (PROJECT/NAME), else the public image NAME. */
  async resolve(project: string, name: string): Promise<string> {
    return (await this.d.store.get(keys.privateImage(project, name))) ? privateRef(project, name) : name;
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

  /**
   * Checked before a create Operation starts: a ready image, or a built-in one that can be built
   * (NotFound saying what is missing otherwise); an unknown name is NotFound listing the built-in ones.
   */
  async forLaunch(name: string): Promise<LaunchImage> {
    if (this.remote && name.includes(':')) return this.remote.forLaunch(name);
    const rec = (await this.d.store.get<ImageRecord>(key(name)))?.value;
    const step = nextStep(name, rec?.status, this.builds.has(name), this.builtins.names);
    if (step === 'use') {
      const img = await this.ready(name);
      return { virtualSizeBytes: img.virtualSizeBytes, ...(img.oci ? { oci: img.oci } : {}), ...(img.type === 'iso' ? { iso: true } : {}), ...(img.template ? { template: img.template } : {}), pending: false, arch: img.arch ?? DEFAULT_ARCH };
    }
    const builtin = this.builtins.get(name);
    // An import that runs under this name: not ready yet, as before.
    if (!builtin || (rec && rec.source !== `builtin:${name}`)) {
      const img = await this.ready(name);
      return { ...img, ...(img.type === 'iso' ? { iso: true } : {}), pending: false, arch: img.arch ?? DEFAULT_ARCH };
    }
    if (step === 'build') await this.checkBuildable(name);
    return { virtualSizeBytes: builtin.diskBytes, pending: true, arch: builtin.arch ?? DEFAULT_ARCH };
  }

  /**
   * The ready image `name`, built first when it is a missing built-in one; a build that runs
   * already (a launch's or `nimbo image build`'s) is followed, never doubled. Progress goes to `progress`.
   */
  async ensure(name: string, progress: (pct: number, message: string) => void, signal?: AbortSignal): Promise<BuiltImage & { boot: VmBoot }> {
    if (this.remote && name.includes(':')) {
      await this.remote.ensure(name, progress, signal);
      return this.ready(name);
    }
    for (let tries = 0; tries < 5; tries++) {
      const rec = (await this.d.store.get<ImageRecord>(key(name)))?.value;
      const step = nextStep(name, rec?.status, this.builds.has(name), this.builtins.names);
      if (step === 'use') return this.ready(name);
      if (step === 'build') {
        await this.checkBuildable(name);
        try {
          const op = await this.build(name);
          progress(0, `build started (operation ${op.id})`);
        } catch (e) {
          // Another launch began the build (or finished it) since the store was read: look again.
          if (e instanceof NimboError && e.code === 'Conflict') continue;
          throw e;
        }
      }
      if (!(await this.builds.follow(name, progress, signal))) await new Promise((r) => setTimeout(r, 200));
    }
    return this.ready(name);
  }

  /** Throws NotFound saying what is missing when the built-in image `name` cannot be built on this host. */
  private async checkBuildable(name: string, err = cannotBuild): Promise<void> {
    const builtin = this.builtins.get(name);
    if (!builtin) return;
    const blockers = await this.builtins.blockers(builtin);
    if (blockers.length) throw err(name, blockers);
  }

  /** Build a built-in image (tiny, debian-12) as an Operation. */
  async build(name: string, builder: string = name) {
    validateName(name, 'image name');
    const build = this.builtins.get(builder)?.build ?? getBuilder(builder); // getBuilder: InvalidArgument naming the known ones
    await this.checkBuildable(builder, (_, blockers) => conflict(`cannot build image ${name} on this host: ${blockers.join('; ')}`));
    return this.produce(name, `builtin:${builder}`, (outDir, ctx) =>
      build({ exec: this.d.exec, outDir, force: true, progress: (p: number, m: string) => ctx.progress(p, m) }),
    );
  }

  /** Import a qcow2/raw file from the daemon's host as an Operation (a disk for `arch`; default x86_64). */
  async import(name: string, file: string, arch?: GuestArch) {
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
      importImage({ exec: this.d.exec, file, name, outDir, arch, progress: (p: number, m: string) => ctx.progress(p, m) }),
    );
  }

  /**
   * Import a disk image uploaded as `body` (declared `contentLength` bytes) as image `name`: refused before a byte
   * is written when it cannot fit (image-upload.ts), streamed to a file in the images dir, then imported like
   * `import` (qemu-img validation, qcow2 or raw) as an Operation. No file is left behind, whatever fails.
   */
  async upload(name: string, contentLength: string | undefined, body: Readable, arch?: GuestArch) {
    validateName(name, 'image name');
    const existing = await this.d.store.get<ImageRecord>(key(name));
    if (existing && existing.value.status !== 'error') throw conflict(`image ${name} already exists`);
    const size = uploadSize(contentLength, this.d.config.uploadMaxBytes ?? UPLOAD_MAX_BYTES, await freeBytes(this.d.paths.images));
    // Named like a build folder: recover() removes what a daemon stopped mid-upload left.
    const tmp = join(this.d.paths.images, `.build-upload-${randomUUID()}`);
    await receiveUpload(body, tmp, size);
    const drop = () => rmSync(tmp, { force: true });
    try {
      const op = await this.produce(name, 'upload', (outDir, ctx) =>
        importImage({ exec: this.d.exec, file: tmp, name, outDir, arch, progress: (p: number, m: string) => ctx.progress(p, m) }).finally(drop),
      );
      // Cancelled before its body ran: the body's finally never comes.
      void this.d.ops.wait(op.id, 2 ** 31 - 1).then(drop, drop);
      return op;
    } catch (e) {
      drop();
      throw e;
    }
  }

  /** Make image `name` as an Operation: `make` writes it into outDir; a failure leaves neither files nor a record. */
  async produce(name: string, source: string, make: (outDir: string, ctx: OpContext) => Promise<BuiltImage>, fetched?: ImageRecord['fetched']) {
    // Registered before the first await: a second build of the same name, or a launch, sees this one.
    const handle = this.builds.begin(name);
    let op: Awaited<ReturnType<OperationManager['start']>>;
    try {
      const rec: ImageRecord = { name, source, status: 'building', createdAt: new Date().toISOString() };
      const existing = await this.d.store.get<ImageRecord>(key(name));
      if (existing && existing.value.status !== 'error') throw conflict(`image ${name} already exists`);
      await this.d.store.put(key(name), rec, { expectRevision: existing?.modRevision ?? 0 });
      this.d.events.publish('image', name, { status: 'building' });
      op = await this.d.ops.start('image.build', `image/${name}`, async (ctx) => {
        const dir = this.d.paths.image(name);
        try {
          rmSync(dir, { recursive: true, force: true });
          const built = await make(dir, { ...ctx, progress: (pct: number, message?: string) => {
            ctx.progress(pct, message);
            handle.progress(pct, message ?? '');
          } });
          const ready: ImageRecord = { ...rec, status: 'ready', built: { ...built, name }, ...(fetched ? { fetched } : {}) };
          await this.d.store.put(key(name), ready);
          this.d.events.publish('image', name, { status: 'ready' });
          handle.end();
          return this.view(ready);
        } catch (e) {
          try {
            rmSync(dir, { recursive: true, force: true });
          } catch (rmErr) {
            this.d.log.warn({ image: name, err: String(rmErr) }, 'removing a failed image build');
          }
          await this.d.store.delete(key(name));
          this.d.events.publish('image', name, { status: 'error' });
          handle.end(e);
          throw e;
        }
      });
    } catch (e) {
      handle.end(); // it never started: followers look at the store again
      throw e;
    }
    // Cancelled before its body ran: the body never ends the handle, so end it here.
    void this.d.ops.wait(op.id, 2 ** 31 - 1).then(async (final) => {
      if (final.status === 'success') return handle.end();
      if ((await this.d.store.get<ImageRecord>(key(name)))?.value.status === 'building') await this.d.store.delete(key(name));
      handle.end(new NimboError(final.error?.code === 'Cancelled' ? 'Cancelled' : 'Internal', final.error?.message ?? `operation ${final.status}`));
    }, (e: unknown) => handle.end(e));
    return op;
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
