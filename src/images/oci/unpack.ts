import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { HostExec } from '../../host/exec.js';
import { HostCommandError, NimboError, conflict, invalid } from '../../lib/errors.js';
import type { ProgressFn } from '../types.js';
import type { OciImageConfig } from './config.js';
import { DirStore, TarStore, ociTags, parseDockerManifest, placeLayer, selectDockerImage, selectOciImage, type BlobStore, type PlacedLayer, type SelectedImage } from './layout.js';
import { MT, REF_NAME } from './media.js';
import { TarFormatError, indexTar, isGzipFile, scanTarMembers } from './tar.js';

/** The kinds of application-container image sources nimbo imports. */
export type OciSourceKind = 'oci-dir' | 'oci-tar' | 'docker-archive';

/** A recognised image source. */
export interface OciSource {
  kind: OciSourceKind;
  /** Absolute path of the directory or tar. */
  path: string;
  /** The image's name when the source holds exactly one named image (a default for the catalog name). */
  ref?: string;
  /** Every image name (tag) found in the source. */
  tags: string[];
  /** The tar is gzip-compressed (docker save | gzip). */
  gzip?: boolean;
}

/** Container root (0) maps to host id hostId; container ids [0, size) are shifted. */
export interface UidShift {
  hostId: number;
  size: number;
}

/** Options of unpackOciImage. */
export interface UnpackOciOptions {
  /** Which image of a source holding several: its tag or name (docker-normalized); "@N" picks the N-th docker-archive entry. */
  tag?: string;
  /** Shift file ownership into a user-namespace range (umoci --uid-map/--gid-map 0:hostId:size). */
  uidShift?: UidShift;
  /** GOARCH-style architecture to pick/require (default: this host's). */
  architecture?: string;
  progress?: ProgressFn;
}

/** What unpackOciImage made: the image config plus where the root filesystem went. */
export interface OciUnpacked extends OciImageConfig {
  /** destDir/rootfs */
  rootfs: string;
  /** The chosen image's name, when known. */
  ref?: string;
  /** Digest of the chosen manifest (docker archives: of its manifest.json entry). */
  manifestDigest: string;
  /** Digest of the image config blob. */
  configDigest: string;
  /** Number of layers and their total (compressed) size. */
  layerCount: number;
  layerBytes: number;
}

const MAX_ID = 4294967294;

/** GOARCH name of this host's architecture. */
export function hostArchitecture(): string {
  const m: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return m[process.arch] ?? process.arch;
}

const OCI_WANTED = new Set(['oci-layout', 'index.json', 'manifest.json']);

function tryJson(b: Buffer | undefined): unknown {
  if (!b) return undefined;
  try {
    return JSON.parse(b.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Recognises an application image source: an OCI layout directory (oci-layout + index.json),
 * a tar of one, or a docker-archive tar (`docker save`, manifest.json with Config/Layers;
 * gzip-compressed tars too). Returns null for anything else, so the caller can fall back to
 * disk-image import. A tar that holds both (docker 25+) counts as oci-tar. Throws
 * InvalidArgument only for a tar that is broken past its first header.
 */
export async function detectOciSource(path: string): Promise<OciSource | null> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => null);
  if (!st) return null;
  if (st.isDirectory()) {
    const store = new DirStore(abs);
    const layout = await store.readSmall('oci-layout').catch(() => undefined);
    const index = await store.readSmall('index.json').catch(() => undefined);
    if (!layout || !index) return null;
    return withRef({ kind: 'oci-dir', path: abs, tags: ociTags(tryJson(index)) });
  }
  if (!st.isFile()) return null;
  const gzip = await isGzipFile(abs);
  let scan: Awaited<ReturnType<typeof scanTarMembers>>;
  try {
    scan = await scanTarMembers(abs, (n) => OCI_WANTED.has(n), {
      gzip,
      maxBytes: 4 << 20,
      stopWhen: (f) => f.has('oci-layout') && f.has('index.json'),
    });
  } catch (e) {
    if (e instanceof TarFormatError) throw invalid(`${abs} is a broken tar archive: ${e.message}`);
    throw e;
  }
  if (!scan) return null;
  const { found } = scan;
  const extra = gzip ? { gzip: true } : {};
  if (found.has('oci-layout') && found.has('index.json')) {
    return withRef({ kind: 'oci-tar', path: abs, tags: ociTags(tryJson(found.get('index.json'))), ...extra });
  }
  const m = found.get('manifest.json');
  if (m) {
    try {
      const entries = parseDockerManifest(m, abs);
      return withRef({ kind: 'docker-archive', path: abs, tags: [...new Set(entries.flatMap((e) => e.RepoTags))], ...extra });
    } catch {
      return null;
    }
  }
  return null;
}

function withRef(s: OciSource): OciSource {
  if (s.tags.length === 1) s.ref = s.tags[0];
  return s;
}

function checkShift(s: UidShift | undefined): void {
  if (!s) return;
  const ok = Number.isSafeInteger(s.hostId) && Number.isSafeInteger(s.size) && s.hostId >= 0 && s.size >= 1 && s.hostId + s.size - 1 <= MAX_ID;
  if (!ok) throw invalid(`uidShift must be integers with hostId >= 0, size >= 1 and hostId+size-1 <= ${MAX_ID}`);
}

async function gunzipTo(src: string, dest: string, label: string): Promise<void> {
  try {
    await pipeline(createReadStream(src), createGunzip(), createWriteStream(dest, { mode: 0o600 }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code?.startsWith?.('Z_')) throw invalid(`${label}: broken gzip data: ${(e as Error).message}`);
    throw e;
  }
}

/** umoci's failure, as nimbo's error: image problems become InvalidArgument. */
function umociError(e: HostCommandError, label: string, shift: UidShift | undefined): NimboError {
  const lines = e.stderr.split('\n').map((l) => l.replace(/^\s*⨯\s*/, '').trim()).filter(Boolean);
  const msg = lines.at(-1) ?? `exit ${e.exitCode}`;
  if (e.exitCode === null && /ENOENT/.test(e.stderr)) {
    return new NimboError('HostCommandFailed', 'umoci is not installed on this host (Debian package umoci)', undefined, e);
  }
  if (/no space left|read-only file system|disk quota/i.test(msg)) return e; // the host's problem, not the image's
  const unmapped = /container id (\d+) cannot be mapped/.exec(msg);
  if (unmapped && shift) {
    return new NimboError('InvalidArgument',
      `${label}: a layer has files owned by id ${unmapped[1]}, outside the ${shift.size} ids of the container's user-namespace range`, undefined, e);
  }
  if (/digest mismatch|invalid tar header|gzip|unexpected EOF|archive\/tar|unpack entry|not implemented/i.test(msg)) {
    return new NimboError('InvalidArgument', `${label}: cannot unpack the image layers: ${msg}`, undefined, e);
  }
  return e;
}

/**
 * Unpacks one image of an OCI layout (dir or tar) or docker archive into `destDir/rootfs`
 * (whiteouts applied and every path kept inside rootfs, by umoci; layer digests verified
 * by nimbo before, and by umoci again while reading) and returns its config.
 *
 * destDir may exist (it must then have no `rootfs`; its mode is left alone). If it does not,
 * it is created: 0700 without uidShift (the rootfs may hold setuid-root files), with uidShift
 * mode 0710 and group hostId (runc's user-namespaced init must traverse it to mount the
 * rootfs; other host users cannot), missing ancestors 0711.
 * Temporary files live in destDir/.nimbo-oci-* (same filesystem as the result). On any
 * failure everything this call created is removed: destDir is left as it was.
 *
 * Refuses with InvalidArgument: not an image source, no manifest, several images and no
 * tag (the tags are listed), an unknown tag, another platform, unsupported media types
 * (schema 1, zstd, foreign layers, non-container artifacts), missing or corrupt blobs, and
 * files owned by ids outside uidShift.
 */
export async function unpackOciImage(exec: HostExec, source: OciSource | string, destDir: string, opts: UnpackOciOptions = {}): Promise<OciUnpacked> {
  const progress = opts.progress ?? (() => {});
  checkShift(opts.uidShift);
  const arch = opts.architecture ?? hostArchitecture();
  const src = typeof source === 'string' ? await detectOciSource(source) : source;
  if (!src) throw invalid(`${resolve(String(source))} is not an OCI image layout (directory or tar) or a docker-archive tar`);
  const label = src.path;

  const dest = resolve(destDir);
  const destSt = await stat(dest).catch(() => null);
  if (destSt && !destSt.isDirectory()) throw conflict(`${dest} exists and is not a directory`);
  if (destSt && (await stat(join(dest, 'rootfs')).catch(() => null))) throw conflict(`${dest}/rootfs already exists`);
  const shift = opts.uidShift;
  const created = destSt ? undefined : await mkdir(dest, { recursive: true, mode: shift ? 0o711 : 0o700 });
  let work: string | undefined;
  try {
    if (created && shift) {
      // runc's init runs as the container's root (host hostId) and must traverse destDir to
      // mount the rootfs; group hostId + 0710 lets it, and no other host user.
      await chown(dest, 0, shift.hostId);
      await chmod(dest, 0o710);
    }
    work = await mkdtemp(join(dest, '.nimbo-oci-'));
    progress(1, `reading ${src.kind} ${label}`);

    // 1. Open the source and choose the image (index/manifest/config verified).
    let store: BlobStore;
    if (src.kind === 'oci-dir') store = new DirStore(resolve(src.path));
    else {
      let tarFile = resolve(src.path);
      if (src.gzip ?? (await isGzipFile(tarFile))) {
        progress(2, 'decompressing the archive');
        tarFile = join(work, 'source.tar');
        await gunzipTo(resolve(src.path), tarFile, label);
      }
      let index;
      try {
        index = await indexTar(tarFile);
      } catch (e) {
        if (e instanceof TarFormatError) throw invalid(`${label} is a broken tar archive: ${e.message}`);
        throw e;
      }
      if (!index) throw invalid(`${label} is not a tar archive`);
      store = new TarStore(tarFile, index);
    }
    const img: SelectedImage = src.kind === 'docker-archive'
      ? await selectDockerImage(store, label, opts.tag, arch)
      : await selectOciImage(store, label, opts.tag, arch);

    // 2. A private layout umoci reads: the layers (verified), the config, a fresh OCI manifest.
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const total = img.layers.reduce((n, l) => n + Math.max(0, l.size ?? store.stream(l.rel)?.size ?? 0), 0) || 1;
    let done = 0;
    const placed: PlacedLayer[] = [];
    for (const [i, l] of img.layers.entries()) {
      progress(5 + Math.floor(Math.min(1, done / total) * 45), `verifying layer ${i + 1}/${img.layers.length}`);
      placed.push(await placeLayer(store, l, blobs, label, (n) => { done += n; }));
    }
    const putBlob = async (data: Buffer): Promise<{ digest: string; size: number }> => {
      const hex = createHash('sha256').update(data).digest('hex');
      await writeFile(join(blobs, hex), data, { mode: 0o600 });
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const cfgDesc = await putBlob(img.configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, ...cfgDesc },
      layers: placed.map((p) => ({ mediaType: p.mediaType, digest: p.digest, size: p.size })),
    };
    const manDesc = await putBlob(Buffer.from(JSON.stringify(manifest)));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: MT.ociManifest, ...manDesc, annotations: { [REF_NAME]: 'nimbo' } }],
    }));

    // 3. umoci applies the layers in order (whiteouts, confinement to rootfs, id shifting).
    progress(50, `unpacking ${placed.length} layer(s)`);
    const argv = ['umoci', 'raw', 'unpack',
      ...(shift ? ['--uid-map', `0:${shift.hostId}:${shift.size}`, '--gid-map', `0:${shift.hostId}:${shift.size}`] : []),
      '--image', 'layout:nimbo', 'rootfs'];
    try {
      await exec.run(argv, { cwd: work, timeoutMs: 4 * 3600_000 });
    } catch (e) {
      if (e instanceof HostCommandError) throw umociError(e, label, shift);
      throw e;
    }
    const rootfsWork = join(work, 'rootfs');
    if (!(await stat(rootfsWork).catch(() => null))?.isDirectory()) throw new NimboError('Internal', `umoci made no rootfs for ${label}`);

    // 4. Publish: one rename on the same filesystem.
    const rootfs = join(dest, 'rootfs');
    await rename(rootfsWork, rootfs);
    await rm(work, { recursive: true, force: true });
    work = undefined;
    progress(100, 'done');
    const out: OciUnpacked = {
      ...img.config,
      rootfs,
      manifestDigest: img.manifestDigest,
      configDigest: img.configDigest,
      layerCount: placed.length,
      layerBytes: placed.reduce((n, p) => n + p.size, 0),
    };
    if (img.ref) out.ref = img.ref;
    return out;
  } catch (e) {
    if (created) await rm(created, { recursive: true, force: true });
    else {
      if (work) await rm(work, { recursive: true, force: true });
    }
    throw e;
  }
}

/** Leftover work dirs of interrupted unpacks in destDir (for a daemon's startup sweep). */
export async function staleUnpackDirs(destDir: string): Promise<string[]> {
  const names = await readdir(destDir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('.nimbo-oci-')).map((n) => join(destDir, n));
}
