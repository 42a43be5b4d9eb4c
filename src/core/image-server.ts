// The read-only image server: other daemons list this daemon's public disk images (with the sha256 of every
// file) and download their files. Off unless the daemon runs with --image-server; private (project) images,
// images still building, images fetched from elsewhere (REMOTE:NAME) and OCI application images are never served.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { NimboError, notFound } from '../lib/errors.js';
import { isRemoteRef } from '../lib/image-ref.js';
import type { ServedImage } from '../shared/image-fetch-types.js';
import type { ImageRecord, ImageService } from './image-service.js';

/** A file to send: where it is, its size and the validators of its current content. */
export interface ServedFileRef {
  path: string;
  size: number;
  etag: string;
  lastModified: string;
}

/** sha256 (hex) of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

/** The files of an image that the server sends (base names in its dir): the disk, and a direct boot's kernel and initrd. Pure. */
export function servedFiles(r: ImageRecord): string[] {
  const b = r.built;
  if (!b || b.oci || !b.disk) return [];
  const files = [basename(b.disk)];
  if (b.boot.kind === 'direct') {
    files.push(basename(b.boot.kernel));
    if (b.boot.initrd) files.push(basename(b.boot.initrd));
  }
  return files;
}

/** Whether an image record is served: a ready public disk image of this daemon's own. Pure. */
export function isServed(r: ImageRecord): boolean {
  return r.status === 'ready' && !isRemoteRef(r.name) && servedFiles(r).length > 0;
}

/** The image server of one daemon. */
export class ImageServer {
  /** sha256 by file identity (path, inode, size, mtime): a file is hashed once, again only when it changed. */
  private sums = new Map<string, { id: string; sha: Promise<string> }>();
  constructor(private images: ImageService, readonly enabled: boolean) {}

  private check(): void {
    if (!this.enabled) throw notFound('image server: this daemon does not serve its images (start it with nimbo daemon --image-server)');
  }

  private async identity(path: string): Promise<{ id: string; size: number; mtime: Date }> {
    const st = await stat(path);
    return { id: `${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}`, size: st.size, mtime: st.mtime };
  }

  private async sha(path: string): Promise<string> {
    const { id } = await this.identity(path);
    const known = this.sums.get(path);
    if (known?.id === id) return known.sha;
    const sha = sha256File(path);
    this.sums.set(path, { id, sha });
    sha.catch(() => this.sums.delete(path));
    return sha;
  }

  /** The served images, by name, each with the size and sha256 of its files. */
  async index(): Promise<ServedImage[]> {
    this.check();
    const out: ServedImage[] = [];
    for (const r of (await this.images.list()).filter(isServed).sort((a, b) => a.name.localeCompare(b.name))) {
      const b = r.built!;
      const dir = b.dir;
      try {
        const files = [];
        for (const f of servedFiles(r)) {
          const path = `${dir}/${f}`;
          files.push({ name: f, size: (await this.identity(path)).size, sha256: await this.sha(path) });
        }
        const boot: ServedImage['boot'] = b.boot.kind === 'direct'
          ? { kind: 'direct', kernel: basename(b.boot.kernel), ...(b.boot.initrd ? { initrd: basename(b.boot.initrd) } : {}), cmdline: b.boot.cmdline }
          : { kind: b.boot.kind };
        const arch = (b as { arch?: unknown }).arch;
        out.push({
          name: r.name, type: 'disk', ...(typeof arch === 'string' ? { arch } : {}), format: b.format, size: b.virtualSizeBytes,
          sha256: files[0]!.sha256, updated: r.createdAt, os: b.os, boot, ...(b.readyMarker ? { readyMarker: b.readyMarker } : {}), files,
        });
      } catch {
        // Deleted while listed: left out.
      }
    }
    return out;
  }

  /** A served image's file, for GET /image-server/images/{name}/files/{file}; NotFound for anything not served. */
  async file(name: string, file: string): Promise<ServedFileRef> {
    this.check();
    const r = await this.images.get(name).catch(() => undefined);
    if (!r || !isServed(r) || !servedFiles(r).includes(file)) throw notFound(`served image file ${name}/${file}`);
    const path = `${r.built!.dir}/${file}`;
    try {
      const { id, size, mtime } = await this.identity(path);
      return { path, size, etag: `"${id}"`, lastModified: mtime.toUTCString() };
    } catch (e) {
      throw new NimboError('NotFound', `served image file ${name}/${file} is gone`, undefined, e);
    }
  }
}
