// The local cache of remote images (REMOTE:NAME): a launch fetches the image from its remote's image server into
// this daemon's public images (every file verified against the index's sha256, the disk checked by qemu-img), and a
// later launch asks the index (cheap) and fetches again only when a sum changed. One fetch per image at a time.
import { DEFAULT_ARCH, isGuestArch, type GuestArch } from '../shared/arch-types.js';
import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NimboError, invalid } from '../lib/errors.js';
import { parseImageRef } from '../lib/image-ref.js';
import { download } from '../host/http-download.js';
import { checkImportable, parseQemuImgInfo } from '../images/import.js';
import { makeWorkDir, publishImage } from '../images/publish.js';
import type { BuiltImage } from '../images/types.js';
import type { ServedImage } from '../shared/image-fetch-types.js';
import { keys } from '../store/keys.js';
import type { BaseDeps } from './deps.js';
import { SharedBuilds } from './image-on-demand.js';
import type { ImageRecord, ImageService, LaunchImage, RemoteImageSource } from './image-service.js';
import type { ImageRemotes } from './image-remotes.js';

/** Whether a cached record holds exactly the files (by sha256) that the remote's index lists now. Pure. */
export function upToDate(rec: ImageRecord | undefined, served: ServedImage): boolean {
  if (rec?.status !== 'ready' || !rec.fetched) return false;
  const have = rec.fetched.sha256;
  return Object.keys(have).length === served.files.length && served.files.every((f) => have[f.name] === f.sha256);
}

/** The BuiltImage of a served image whose files lie in `dir`; InvalidArgument for what a launch could not use. Pure. */
export function builtFrom(ref: string, s: ServedImage, dir: string): BuiltImage {
  const disk = s.files[0]!.name;
  const named = (f: string | undefined) => {
    if (f === undefined || !s.files.some((x) => x.name === f)) throw invalid(`the served image ${s.name} boots from a file it does not list (${f})`);
    return join(dir, f);
  };
  if (s.format !== 'qcow2' && s.format !== 'raw') throw invalid(`the served image ${s.name} is ${s.format}, not qcow2 or raw`);
  const boot: BuiltImage['boot'] = s.boot.kind === 'direct'
    ? { kind: 'direct', kernel: named(s.boot.kernel), ...(s.boot.initrd ? { initrd: named(s.boot.initrd) } : {}), cmdline: s.boot.cmdline ?? '' }
    : { kind: 'disk' };
  return { name: ref, dir, disk: join(dir, disk), format: s.format, virtualSizeBytes: s.size, boot, os: s.os, ...(s.readyMarker ? { readyMarker: s.readyMarker } : {}) };
}

/** Remote images in the local cache. */
export class RemoteImageCache implements RemoteImageSource {
  private fetches = new SharedBuilds();
  constructor(private d: BaseDeps, private images: ImageService, private remotes: ImageRemotes) {}

  private async cached(ref: string): Promise<ImageRecord | undefined> {
    return (await this.d.store.get<ImageRecord>(keys.image(ref)))?.value;
  }

  async forLaunch(ref: string): Promise<LaunchImage> {
    const { remote, image } = parseImageRef(ref);
    const r = await this.remotes.get(remote!);
    const rec = await this.cached(ref);
    let served: ServedImage;
    try {
      served = await this.remotes.image(r, image);
    } catch (e) {
      // The remote is away: a cached copy still launches (it is what the last check found).
      if (rec?.status === 'ready' && !(e instanceof NimboError && e.code === 'NotFound')) {
        this.d.log.warn({ image: ref, err: (e as Error).message }, 'image remote unreachable: launching the cached copy');
        return { virtualSizeBytes: rec.built!.virtualSizeBytes, pending: false, arch: archOf(rec.built) };
      }
      throw e;
    }
    const arch = isGuestArch(served.arch) ? served.arch : DEFAULT_ARCH;
    if (upToDate(rec, served) && !this.fetches.has(ref)) return { virtualSizeBytes: served.size, pending: false, arch };
    return { virtualSizeBytes: served.size, pending: true, arch };
  }

  async ensure(ref: string, progress: (pct: number, message: string) => void, signal?: AbortSignal): Promise<void> {
    for (let tries = 0; tries < 3; tries++) {
      if (await this.fetches.follow(ref, progress, signal)) return;
      try {
        const op = await this.fetch(ref);
        progress(0, `fetch started (operation ${op.id})`);
      } catch (e) {
        if (e instanceof NimboError && e.code === 'Conflict') continue; // another launch started it: follow that one
        throw e;
      }
    }
    if (!(await this.fetches.follow(ref, progress, signal)) && (await this.cached(ref))?.status !== 'ready') throw new NimboError('Internal', `image ${ref} could not be fetched`);
  }

  /** Fetch REMOTE:NAME into the cache as an Operation (it ends at once when the cache holds what the remote serves). */
  async fetch(ref: string) {
    const { remote, image } = parseImageRef(ref);
    if (!remote) throw invalid(`${ref} is not REMOTE:IMAGE`);
    const r = await this.remotes.get(remote);
    const handle = this.fetches.begin(ref); // Conflict when one runs
    try {
      const op = await this.d.ops.start('image.fetch', `image/${ref}`, async (ctx) => {
        let created = false;
        let work: string | undefined;
        try {
          const served = await this.remotes.image(r, image, ctx.signal);
          const before = await this.cached(ref);
          if (before && before.status !== 'ready' && before.status !== 'error') throw new NimboError('Conflict', `image ${ref} is ${before.status}`);
          if (before && !before.fetched) throw new NimboError('Conflict', `image ${ref} exists and was not fetched from ${remote}`);
          if (upToDate(before, served)) {
            ctx.progress(100, 'the cached copy is up to date');
            handle.end();
            return this.images.view(before!);
          }
          if (!before) {
            await this.d.store.put(keys.image(ref), { name: ref, source: `remote:${ref}`, status: 'building', createdAt: new Date().toISOString() } satisfies ImageRecord, { expectRevision: 0 });
            created = true;
          }
          const dir = this.d.paths.image(ref);
          work = await makeWorkDir(dir);
          const built = builtFrom(ref, served, dir);
          const total = served.files.reduce((s, f) => s + f.size, 0) || 1;
          let done = 0;
          for (const f of served.files) {
            const url = new URL(`${r.url}/api/v1/image-server/images/${encodeURIComponent(image)}/files/${encodeURIComponent(f.name)}`);
            let last = -1;
            const got = await download(url, join(work, f.name), {
              headers: this.remotes.headers(r), maxBytes: f.size, signal: ctx.signal,
              progress: (bytes) => {
                const pct = Math.floor(((done + bytes) / total) * 95);
                if (pct !== last) {
                  ctx.progress(pct, `fetching ${f.name} ${bytes}/${f.size} bytes`);
                  handle.progress(pct, `fetching ${f.name}`);
                }
                last = pct;
              },
              onResume: (from, why) => ctx.log(`${f.name}: cut (${why}); resuming at byte ${from}`),
            });
            if (got.sha256 !== f.sha256) throw invalid(`checksum mismatch for ${f.name} of ${ref}: the index says sha256 ${f.sha256}, the file has ${got.sha256}; nothing was kept`);
            await chmod(join(work, f.name), 0o644); // QEMU, under its own uid, reads the kernel and initrd
            done += f.size;
          }
          // Served files are data from another host: the disk must be a standalone qcow2 or raw (no backing file).
          const info = await this.d.exec.run(['qemu-img', 'info', '--output=json', '-f', served.format, join(work, served.files[0]!.name)], { allowFailure: true });
          if (info.code !== 0) throw invalid(`the fetched disk of ${ref} is not a readable ${served.format} image: ${info.stderr.trim().split('\n').at(-1) ?? ''}`);
          checkImportable(`${ref} (${served.files[0]!.name})`, parseQemuImgInfo(info.stdout));
          await publishImage(work, served.files.map((f) => f.name), built);
          work = undefined;
          const ready: ImageRecord = {
            name: ref, source: `remote:${ref}`, status: 'ready', createdAt: served.updated || new Date().toISOString(), built,
            fetched: { from: `${r.url} ${image}`, sha256: Object.fromEntries(served.files.map((f) => [f.name, f.sha256])) },
          };
          await this.d.store.put(keys.image(ref), ready);
          this.d.events.publish('image', ref, { status: 'ready' });
          ctx.progress(100, before ? 'refreshed' : 'fetched');
          handle.end();
          return this.images.view(ready);
        } catch (e) {
          if (work) await rm(work, { recursive: true, force: true });
          if (created) await this.d.store.delete(keys.image(ref));
          handle.end(e);
          throw e;
        }
      });
      // Cancelled before its body ran: the body never ends the handle, so end it here.
      void this.d.ops.wait(op.id, 2 ** 31 - 1).then(
        (final) => handle.end(final.status === 'success' ? undefined : new NimboError(final.error?.code === 'Cancelled' ? 'Cancelled' : 'Internal', final.error?.message ?? `operation ${final.status}`)),
        (e: unknown) => handle.end(e),
      );
      return op;
    } catch (e) {
      handle.end(e);
      throw e;
    }
  }
}

/** The architecture a cached image was built for (absent: x86_64). */
function archOf(built: unknown): GuestArch {
  const a = (built as { arch?: unknown } | undefined)?.arch;
  return isGuestArch(a) ? a : DEFAULT_ARCH;
}
