import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MT, REF_NAME } from './media.js';

/*
 * Test fixtures only: a tiny tar writer and OCI layout builder, so unit tests need no tools.
 */

export interface TarEntrySpec {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Write the name as a GNU 'L' long-name record instead of pax. */
  gnuLongName?: boolean;
}

function header(name: string, size: number, flag: string, linkname = '', mode = 0o644, uid = 0, gid = 0): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'utf8');
  const oct = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, '0') + '\0', off, len);
  put(name.slice(0, 100), 0, 100);
  oct(mode, 100, 8);
  oct(uid, 108, 8);
  oct(gid, 116, 8);
  oct(size, 124, 12);
  oct(0, 136, 12);
  h.fill(0x20, 148, 156);
  put(flag, 156, 1);
  put(linkname.slice(0, 100), 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const c of h) sum += c;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/** An uncompressed tar of the entries (ustar; pax or GNU records for long names). */
export function makeTar(entries: TarEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const flag = { file: '0', dir: '5', symlink: '2', hardlink: '1' }[type];
    let name = e.name;
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(e.linkname ?? '') > 100) {
      if (e.gnuLongName) {
        const ln = Buffer.from(name + '\0');
        parts.push(header('././@LongLink', ln.length, 'L'), padded(ln));
      } else {
        const pax = Buffer.from(paxRecord('path', name) + (e.linkname ? paxRecord('linkpath', e.linkname) : ''));
        parts.push(header('PaxHeaders/x', pax.length, 'x'), padded(pax));
      }
      name = name.slice(0, 99);
    }
    parts.push(header(name, data.length, flag, e.linkname ?? '', e.mode ?? (type === 'dir' ? 0o755 : 0o644), e.uid, e.gid), padded(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes a blob into layout dir `root`; returns its descriptor. */
export async function putBlob(root: string, data: Buffer | string, mediaType: string, extra: Record<string, unknown> = {}) {
  const b = Buffer.from(data);
  const digest = sha256(b);
  await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(root, 'blobs', 'sha256', digest.slice(7)), b);
  return { mediaType, digest, size: b.length, ...extra };
}

export interface FixtureImage {
  tag?: string;
  /** Layer tars (uncompressed); gzip-compressed in the layout when gzip is set. */
  layers: Buffer[];
  gzip?: boolean;
  config?: Record<string, unknown>;
  architecture?: string;
  os?: string;
  /** Media type to declare for every layer (default from gzip). */
  layerMediaType?: string;
}

/** Config blob JSON of a fixture image. */
export function fixtureConfig(img: FixtureImage): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: img.architecture ?? 'amd64',
    os: img.os ?? 'linux',
    config: img.config ?? {},
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => sha256(l)) },
  }));
}

/** Writes a manifest (and its config and layers) into a layout; returns the manifest descriptor. */
export async function putImage(root: string, img: FixtureImage) {
  const layers = [];
  for (const l of img.layers) {
    const data = img.gzip ? gzipSync(l) : l;
    layers.push(await putBlob(root, data, img.layerMediaType ?? (img.gzip ? MT.ociLayerGzip : MT.ociLayer)));
  }
  const config = await putBlob(root, fixtureConfig(img), MT.ociConfig);
  const manifest = { schemaVersion: 2, mediaType: MT.ociManifest, config, layers };
  return putBlob(root, JSON.stringify(manifest), MT.ociManifest, img.tag ? { annotations: { [REF_NAME]: img.tag } } : {});
}

/** Writes oci-layout and index.json listing the given descriptors. */
export async function writeIndex(root: string, manifests: unknown[]) {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

/** A complete layout with one manifest per image. */
export async function makeLayout(root: string, images: FixtureImage[]) {
  const descs = [];
  for (const img of images) descs.push(await putImage(root, img));
  await writeIndex(root, descs);
  return descs;
}

/** A docker-archive tar (docker save's classic format) of the images. */
export function makeDockerArchive(images: { repoTags: string[]; layers: Buffer[]; config?: Record<string, unknown>; architecture?: string }[]): Buffer {
  const entries: TarEntrySpec[] = [];
  const manifest = images.map((img) => {
    const cfg = fixtureConfig({ layers: img.layers, config: img.config, architecture: img.architecture });
    const cfgName = `${sha256(cfg).slice(7)}.json`;
    entries.push({ name: cfgName, data: cfg });
    const layerNames = img.layers.map((l) => {
      const id = sha256(l).slice(7);
      entries.push({ name: `${id}/`, type: 'dir' }, { name: `${id}/layer.tar`, data: l });
      return `${id}/layer.tar`;
    });
    return { Config: cfgName, RepoTags: img.repoTags, Layers: layerNames };
  });
  entries.push({ name: 'manifest.json', data: JSON.stringify(manifest) });
  return makeTar(entries);
}
