// Image bases: cloneFromImage never points a volume at a file outside the pool. The image is
// brought into PATH/bases/ once (a hard link when on the same filesystem: O(1); else converted
// or copied once), and every VM disk made from it is an O(1) overlay / reflink / btrfs snapshot
// of that base. So the image catalog may delete or replace its files at any time.
// A base is named after the image file's identity (real path, device, inode, size, mtime), so a
// replaced image gets a new base and the old one is pruned when nothing needs it any more.
import { createHash } from 'node:crypto';
import { readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PoolDirs } from './pool-layout.js';
import { randomHex } from './fs-util.js';
import type { VolumeFormat } from './types.js';

/** Record of an image base (bases/img-KEY.json). */
export interface ImageBaseMeta {
  source: string;
  /** Format of the base file itself (a hard-linked qcow2 image stays qcow2). */
  format: VolumeFormat;
  virtualSize: number;
  createdAt: string;
}

/** Identity of an image file: its real path and a key naming its base. */
export interface ImageIdentity {
  path: string;
  key: string;
}

/** A base key from a file's identity (pure). */
export function imageKeyOf(path: string, st: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return createHash('sha256').update(`${path}\0${st.dev}\0${st.ino}\0${st.size}\0${Math.floor(st.mtimeMs)}`).digest('hex').slice(0, 20);
}

/** The identity of an image file on this host. */
export async function imageIdentity(file: string): Promise<ImageIdentity> {
  const path = await realpath(file);
  return { path, key: imageKeyOf(path, await stat(path)) };
}

/** Name (without extension) of the base for an image key. */
export function imageBaseName(key: string): string {
  return `img-${key}`;
}

/** Read an image base record, or null. */
export async function readImageBase(dirs: PoolDirs, key: string): Promise<ImageBaseMeta | null> {
  const text = await readFile(join(dirs.bases, `${imageBaseName(key)}.json`), 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as ImageBaseMeta);
}

/** Write an image base record (after the base itself is in place). */
export async function writeImageBase(dirs: PoolDirs, key: string, meta: ImageBaseMeta): Promise<void> {
  const tmp = join(dirs.tmp, `base-${randomHex()}.json`);
  await writeFile(tmp, JSON.stringify(meta, null, 2) + '\n');
  await rename(tmp, join(dirs.bases, `${imageBaseName(key)}.json`));
}

/** Whether the image a base was made from is gone or changed (so the base only serves old clones). */
export async function imageBaseStale(key: string, meta: ImageBaseMeta): Promise<boolean> {
  try {
    return imageKeyOf(meta.source, await stat(meta.source)) !== key;
  } catch {
    return true;
  }
}
