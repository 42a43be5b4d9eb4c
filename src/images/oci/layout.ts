import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { open, rename, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { invalid } from '../../lib/errors.js';
import { parseImageConfig, type OciImageConfig } from './config.js';
import { CONFIG_TYPES, CONTAINERD_NAME, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES, MT, REF_NAME } from './media.js';
import { resolveMember, type TarMember } from './tar.js';

/*
 * Reading OCI image layouts (a directory, or a tar of one) and docker-archive tars, choosing
 * one image (tag, platform) and verifying every blob nimbo uses against its digest.
 */

/** Most bytes read into memory for index.json, manifests, configs and manifest.json. */
export const MAX_JSON_BYTES = 4 << 20;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A content descriptor (OCI image spec). */
export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** Where a blob's bytes are: a file of a layout dir, or a member of an (uncompressed) tar. */
export interface BlobStore {
  /** Reads a small file (layout-relative path / member name); undefined when missing. */
  readSmall(rel: string, max?: number): Promise<Buffer | undefined>;
  /** Streams a file's bytes; undefined when missing. */
  stream(rel: string): { size: number; open: () => AsyncIterable<Buffer>; path?: string } | undefined;
}

/** A layout directory on this host. */
export class DirStore implements BlobStore {
  constructor(readonly root: string) {}
  async readSmall(rel: string, max = MAX_JSON_BYTES): Promise<Buffer | undefined> {
    // O_NONBLOCK: a FIFO planted in a layout must not hang the import.
    const fh = await open(join(this.root, rel), constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
    if (!fh) return undefined;
    try {
      const st = await fh.stat();
      if (!st.isFile()) return undefined;
      if (st.size > max) throw invalid(`${join(this.root, rel)} is too large (${st.size} bytes; at most ${max})`);
      const buf = Buffer.alloc(st.size);
      const { bytesRead } = await fh.read(buf, 0, st.size, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  stream(rel: string) {
    const path = join(this.root, rel);
    return { size: -1, path, open: () => createReadStream(path) };
  }
}

/** An uncompressed tar indexed by indexTar. */
export class TarStore implements BlobStore {
  constructor(readonly file: string, readonly index: Map<string, TarMember>) {}
  private member(rel: string): TarMember | undefined {
    return resolveMember(this.index, rel);
  }
  async readSmall(rel: string, max = MAX_JSON_BYTES): Promise<Buffer | undefined> {
    const m = this.member(rel);
    if (!m) return undefined;
    if (m.size > max) throw invalid(`${rel} in ${this.file} is too large (${m.size} bytes; at most ${max})`);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(buf, 0, m.size, m.offset);
      if (bytesRead !== m.size) throw invalid(`${this.file} is truncated (member ${rel})`);
      return buf;
    } finally {
      await fh.close();
    }
  }
  stream(rel: string) {
    const m = this.member(rel);
    if (!m) return undefined;
    return {
      size: m.size,
      open: () => (m.size === 0 ? (async function* () {})() : createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1 })),
    };
  }
}

/** Layout-relative path of a blob, after checking the digest's form. */
export function blobPath(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw invalid(`unsupported or malformed digest "${digest}" (sha256 or sha512 expected)`);
  const [alg, hex] = digest.split(':');
  return `blobs/${alg}/${hex}`;
}

function digestOf(data: Buffer, alg = 'sha256'): string {
  return `${alg}:${createHash(alg).update(data).digest('hex')}`;
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  const x = d as Partial<Descriptor> | null;
  if (!x || typeof x !== 'object' || typeof x.digest !== 'string' || typeof x.size !== 'number' || !Number.isSafeInteger(x.size) || x.size < 0) {
    throw invalid(`${where}: malformed descriptor (digest and size required)`);
  }
  blobPath(x.digest);
  if (x.mediaType !== undefined && typeof x.mediaType !== 'string') throw invalid(`${where}: malformed descriptor media type`);
  return x as Descriptor;
}

/** Reads a small blob and checks its size and digest. */
async function readBlob(store: BlobStore, d: Descriptor, label: string, what: string): Promise<Buffer> {
  if (d.size > MAX_JSON_BYTES) throw invalid(`${label}: ${what} ${d.digest} is too large (${d.size} bytes)`);
  const data = await store.readSmall(blobPath(d.digest));
  if (!data) throw invalid(`${label}: ${what} blob ${d.digest} is missing`);
  const got = digestOf(data, d.digest.split(':')[0]);
  if (got !== d.digest || data.length !== d.size) {
    throw invalid(`${label}: ${what} blob ${d.digest} is corrupt (digest mismatch: content hashes to ${got}, ${data.length} bytes)`);
  }
  return data;
}

function parseJson(data: Buffer, label: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(data.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* below */
  }
  throw invalid(`${label}: ${what} is not a JSON object`);
}

/** "busybox" -> "docker.io/library/busybox:latest"; refs with a digest are returned as they are. */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  let name = colon > slash ? ref.slice(0, colon) : ref;
  const tag = colon > slash ? ref.slice(colon + 1) : 'latest';
  const first = name.split('/')[0]!;
  if (!name.includes('/')) name = `docker.io/library/${name}`;
  else if (!(first.includes('.') || first.includes(':') || first === 'localhost')) name = `docker.io/${name}`;
  else if (first === 'index.docker.io') name = `docker.io/${name.slice(first.length + 1)}`;
  return `${name}:${tag}`;
}

/** Whether one of the names an image carries matches the tag a user gave. */
export function tagMatches(names: string[], tag: string): boolean {
  const want = normalizeImageRef(tag);
  return names.some((n) => n === tag || normalizeImageRef(n) === want);
}

const namesOf = (d: Descriptor): string[] =>
  [d.annotations?.[CONTAINERD_NAME], d.annotations?.[REF_NAME]].filter((s): s is string => typeof s === 'string' && s !== '');
const displayName = (d: Descriptor): string | undefined => namesOf(d)[0];

/** One layer to unpack: where it is, and what it must hash to. */
export interface LayerRef {
  /** Path (layout) or member name (tar) of its bytes. */
  rel: string;
  /** Digest of its bytes, when known in advance (OCI); docker archives give only diffId. */
  digest?: string;
  size?: number;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids entry), checked when digest is unknown. */
  diffId?: string;
}

/** The image chosen from a source, its blobs verified except the layers (checked on copy). */
export interface SelectedImage {
  ref?: string;
  /** Manifest digest in the source (for docker archives: a digest of the manifest.json entry). */
  manifestDigest: string;
  configBytes: Buffer;
  configDigest: string;
  config: OciImageConfig;
  layers: LayerRef[];
}

/** Names (tags) of the images in an OCI index.json, for listings and errors. */
export function ociTags(index: unknown): string[] {
  const m = (index as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(m)) return [];
  return [...new Set(m.map((d) => displayName(d as Descriptor)).filter((s): s is string => !!s))];
}

/** Parsed docker-archive manifest.json entries; throws InvalidArgument when malformed. */
export interface DockerEntry { Config: string; RepoTags: string[]; Layers: string[] }
export function parseDockerManifest(data: Buffer | string, label: string): DockerEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(data.toString());
  } catch {
    throw invalid(`${label}: manifest.json is not valid JSON`);
  }
  if (!Array.isArray(v)) throw invalid(`${label}: manifest.json is not a list`);
  return v.map((e, i) => {
    const x = e as Partial<DockerEntry> | null;
    if (!x || typeof x.Config !== 'string' || !Array.isArray(x.Layers) || !x.Layers.every((l) => typeof l === 'string')) {
      throw invalid(`${label}: manifest.json entry ${i} lacks Config or Layers`);
    }
    const tags = Array.isArray(x.RepoTags) ? x.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: x.Config, RepoTags: tags, Layers: x.Layers };
  });
}

function checkPlatform(cfg: OciImageConfig, label: string, arch: string): void {
  if (cfg.os && cfg.os !== 'linux') throw invalid(`${label}: the image is for ${cfg.os}; nimbo runs linux images only`);
  if (cfg.architecture && cfg.architecture !== arch) {
    throw invalid(`${label}: the image is for linux/${cfg.architecture}; this host runs linux/${arch}`);
  }
}

function layerTypeCheck(mt: string, label: string, digest: string): void {
  if (LAYER_TYPES.has(mt)) return;
  if (mt === MT.ociLayerZstd || mt.endsWith('+zstd')) {
    throw invalid(`${label}: layer ${digest} is zstd-compressed (${mt}); nimbo unpacks plain and gzip layers only ` +
      `(convert it: skopeo copy --dest-compress-format gzip ...)`);
  }
  if (mt === MT.dockerForeign) throw invalid(`${label}: layer ${digest} is a foreign (Windows) layer; nimbo runs linux images only`);
  throw invalid(`${label}: layer ${digest} has unsupported media type ${mt}`);
}

interface Leaf { d: Descriptor; via: Descriptor }

/**
 * Picks one image from an OCI layout: by tag (matched against ref.name and containerd's
 * full name, docker-style normalized), else the only image; a multi-platform index resolves
 * to linux/<arch>. Verifies the index(es), manifest and config blobs.
 */
export async function selectOciImage(store: BlobStore, label: string, tag: string | undefined, arch: string): Promise<SelectedImage> {
  const layoutFile = await store.readSmall('oci-layout');
  if (!layoutFile) throw invalid(`${label}: not an OCI image layout (no oci-layout file)`);
  const ver = parseJson(layoutFile, label, 'oci-layout').imageLayoutVersion;
  if (typeof ver !== 'string' || !ver.startsWith('1.')) throw invalid(`${label}: unsupported OCI layout version ${JSON.stringify(ver)}`);
  const indexData = await store.readSmall('index.json');
  if (!indexData) throw invalid(`${label}: not an OCI image layout (no index.json)`);
  const index = parseJson(indexData, label, 'index.json');
  if (!Array.isArray(index.manifests)) throw invalid(`${label}: index.json has no manifests list`);
  const top = index.manifests.map((d, i) => checkDescriptor(d, `${label}: index.json manifests[${i}]`));
  if (top.length === 0) throw invalid(`${label}: the layout holds no manifest (index.json lists none)`);
  const tags = ociTags(index);
  let cands: Descriptor[];
  if (tag !== undefined) {
    cands = top.filter((d) => tagMatches(namesOf(d), tag));
    if (!cands.length) throw invalid(`${label}: no image tagged "${tag}"; tags: ${tags.join(', ') || '(none)'}`);
  } else {
    if (tags.length > 1) throw invalid(`${label} holds several images; choose one with a tag: ${tags.join(', ')}`);
    cands = top;
  }
  const ref = tag ?? (cands.length ? displayName(cands[0]!) : undefined);

  // Expand indexes (multi-platform images) to manifests.
  const leaves: Leaf[] = [];
  const seen = new Set<string>();
  const expand = async (d: Descriptor, via: Descriptor, depth: number): Promise<void> => {
    let mt = d.mediaType;
    let data: Buffer | undefined;
    if (!mt) {
      data = await readBlob(store, d, label, 'manifest');
      const j = parseJson(data, label, `blob ${d.digest}`);
      mt = typeof j.mediaType === 'string' ? j.mediaType : Array.isArray(j.manifests) ? MT.ociIndex : MT.ociManifest;
    }
    if (INDEX_TYPES.has(mt)) {
      if (depth > 4) throw invalid(`${label}: image indexes nested too deeply`);
      const j = parseJson(data ?? (await readBlob(store, d, label, 'image index')), label, `image index ${d.digest}`);
      const ms = Array.isArray(j.manifests) ? j.manifests : [];
      for (const [i, c] of ms.entries()) await expand(checkDescriptor(c, `${label}: index ${d.digest} manifests[${i}]`), via, depth + 1);
    } else if (MANIFEST_TYPES.has(mt)) {
      if (!seen.has(d.digest)) leaves.push({ d: { ...d, mediaType: mt }, via });
      seen.add(d.digest);
    } else if (mt === MT.dockerSchema1 || mt === MT.dockerSchema1Signed) {
      throw invalid(`${label}: docker schema 1 manifests are not supported (${d.digest}); re-save the image with a current tool`);
    } else if (depth === 0) {
      throw invalid(`${label}: unsupported manifest media type ${mt} (${d.digest})`);
    } // deeper: an artifact next to the images (e.g. a signature); skip it
  };
  for (const d of cands) await expand(d, d, 0);
  if (!leaves.length) throw invalid(`${label}: no image manifest found${ref ? ` for ${ref}` : ''}`);

  // Platform choice.
  const loaded = new Map<string, { manifest: Record<string, unknown>; config: Descriptor; cfgBytes: Buffer; cfg: OciImageConfig }>();
  const load = async (l: Leaf) => {
    const hit = loaded.get(l.d.digest);
    if (hit) return hit;
    const manifest = parseJson(await readBlob(store, l.d, label, 'manifest'), label, `manifest ${l.d.digest}`);
    if (typeof manifest.mediaType === 'string' && !MANIFEST_TYPES.has(manifest.mediaType)) {
      throw invalid(`${label}: manifest ${l.d.digest} has unsupported media type ${manifest.mediaType}`);
    }
    const config = checkDescriptor(manifest.config, `${label}: manifest ${l.d.digest} config`);
    if (config.mediaType && !CONFIG_TYPES.has(config.mediaType)) {
      throw invalid(`${label}: ${l.d.digest} is not a container image (config media type ${config.mediaType})`);
    }
    const cfgBytes = await readBlob(store, config, label, 'config');
    const r = { manifest, config, cfgBytes, cfg: parseImageConfig(cfgBytes) };
    loaded.set(l.d.digest, r);
    return r;
  };
  let chosen: Leaf;
  if (leaves.length === 1) chosen = leaves[0]!;
  else {
    const plat = async (l: Leaf) => {
      if (l.d.platform?.os || l.d.platform?.architecture) return { os: l.d.platform.os ?? '', arch: l.d.platform.architecture ?? '' };
      const { cfg } = await load(l);
      return { os: cfg.os, arch: cfg.architecture };
    };
    const withPlat = await Promise.all(leaves.map(async (l) => ({ l, p: await plat(l) })));
    const match = withPlat.filter((x) => x.p.os === 'linux' && x.p.arch === arch);
    if (match.length === 0) {
      const list = [...new Set(withPlat.map((x) => `${x.p.os || '?'}/${x.p.arch || '?'}`))].join(', ');
      throw invalid(`${label}: no linux/${arch} image${ref ? ` for ${ref}` : ''}; platforms: ${list}`);
    }
    if (match.length > 1) {
      throw invalid(`${label}: several linux/${arch} manifests${ref ? ` for ${ref}` : ''} (${match.map((x) => x.l.d.digest.slice(0, 19)).join(', ')}); ` +
        (tags.length ? `choose one with a tag: ${tags.join(', ')}` : 'keep one image per layout'));
    }
    chosen = match[0]!.l;
  }
  const { manifest, config, cfgBytes, cfg } = await load(chosen);
  checkPlatform(cfg, label, arch);
  if (!Array.isArray(manifest.layers)) throw invalid(`${label}: manifest ${chosen.d.digest} has no layers list`);
  const layers = manifest.layers.map((x, i) => {
    const d = checkDescriptor(x, `${label}: manifest layers[${i}]`);
    layerTypeCheck(d.mediaType ?? MT.ociLayer, label, d.digest);
    return { rel: blobPath(d.digest), digest: d.digest, size: d.size };
  });
  const diffIds = (JSON.parse(cfgBytes.toString()) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
  if (Array.isArray(diffIds) && diffIds.length !== layers.length) {
    throw invalid(`${label}: the config lists ${diffIds.length} layer diff ids but the manifest has ${layers.length} layers`);
  }
  const out: SelectedImage = { manifestDigest: chosen.d.digest, configBytes: cfgBytes, configDigest: config.digest, config: cfg, layers };
  if (ref) out.ref = ref;
  return out;
}

/**
 * Picks one image from a docker-archive (manifest.json): by tag (docker-normalized, or "@N"
 * for the N-th entry), else the only one. Verifies the config against its file name's digest
 * when it carries one; the layers are checked against the config's diff ids on copy.
 */
export async function selectDockerImage(store: BlobStore, label: string, tag: string | undefined, arch: string): Promise<SelectedImage> {
  const data = await store.readSmall('manifest.json');
  if (!data) throw invalid(`${label}: not a docker archive (no manifest.json)`);
  const entries = parseDockerManifest(data, label);
  if (!entries.length) throw invalid(`${label}: the archive holds no image (manifest.json is empty)`);
  const tags = [...new Set(entries.flatMap((e) => e.RepoTags))];
  let entry: DockerEntry | undefined;
  let ref: string | undefined;
  if (tag !== undefined) {
    const at = /^@(\d+)$/.exec(tag);
    entry = at ? entries[Number(at[1])] : entries.find((e) => tagMatches(e.RepoTags, tag));
    if (!entry) throw invalid(`${label}: no image tagged "${tag}"; tags: ${tags.join(', ') || '(none)'}${entries.length > 1 ? ` (or @0..@${entries.length - 1})` : ''}`);
    ref = at ? entry.RepoTags[0] : entry.RepoTags.find((t) => tagMatches([t], tag)) ?? tag;
  } else {
    if (entries.length > 1) {
      throw invalid(`${label} holds several images; choose one with a tag: ${tags.join(', ') || '(untagged)'} (or @0..@${entries.length - 1})`);
    }
    entry = entries[0]!;
    ref = entry.RepoTags[0];
  }
  const cfgBytes = await store.readSmall(entry.Config);
  if (!cfgBytes) throw invalid(`${label}: config ${entry.Config} is missing from the archive`);
  const configDigest = digestOf(cfgBytes);
  const named = /([a-f0-9]{64})(\.json)?$/.exec(entry.Config);
  if (named && `sha256:${named[1]}` !== configDigest) {
    throw invalid(`${label}: config ${entry.Config} is corrupt (digest mismatch: content hashes to ${configDigest})`);
  }
  const cfg = parseImageConfig(cfgBytes);
  checkPlatform(cfg, label, arch);
  const diffIds = (JSON.parse(cfgBytes.toString()) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== entry.Layers.length || !diffIds.every((x) => typeof x === 'string' && DIGEST_RE.test(x))) {
    throw invalid(`${label}: the config's rootfs.diff_ids do not match the ${entry.Layers.length} layers of manifest.json`);
  }
  const layers = entry.Layers.map((rel, i) => ({ rel, diffId: diffIds[i] as string }));
  const out: SelectedImage = {
    manifestDigest: digestOf(Buffer.from(JSON.stringify(entry))),
    configBytes: cfgBytes,
    configDigest,
    config: cfg,
    layers,
  };
  if (ref) out.ref = ref;
  return out;
}

/** Compression of a layer, from its first bytes. */
export function sniffCompression(head: Buffer): 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\0') return 'xz';
  return 'none';
}

/** A layer placed into the private layout. */
export interface PlacedLayer { digest: string; size: number; mediaType: string }

/**
 * Puts one layer into `blobsDir` (the private layout's blobs/): verifies its digest and size
 * (or, for docker archives, its uncompressed digest against the diff id), then links the
 * layout file (DirStore) or copies the tar member (TarStore). The OCI media type nimbo gives
 * umoci comes from the content (plain or gzip tar), not from the declared type.
 */
export async function placeLayer(store: BlobStore, layer: LayerRef, blobsDir: string, label: string, onBytes: (n: number) => void): Promise<PlacedLayer> {
  const src = store.stream(layer.rel);
  const what = layer.digest ?? layer.rel;
  if (!src) throw invalid(`${label}: layer ${what} is missing`);
  const alg = layer.digest?.split(':')[0] ?? 'sha256';
  if (alg !== 'sha256') throw invalid(`${label}: layer ${what}: only sha256 layer digests are supported`);
  if (src.path && !(await stat(src.path).catch(() => null))?.isFile()) throw invalid(`${label}: layer ${what} is missing`);
  const hash = createHash(alg);
  const copy = !src.path; // tar members are copied; layout files are linked after checking
  const tmp = join(blobsDir, `.incoming-${Math.random().toString(36).slice(2)}`);
  const out = copy ? await open(tmp, 'wx', 0o600) : undefined;
  let size = 0;
  let head = Buffer.alloc(0);
  try {
    try {
      for await (const chunk of src.open()) {
        const b = chunk as Buffer;
        hash.update(b);
        if (head.length < 8) head = Buffer.concat([head, b.subarray(0, 8)]);
        if (out) {
          let off = 0;
          while (off < b.length) off += (await out.write(b, off, b.length - off)).bytesWritten;
        }
        size += b.length;
        onBytes(b.length);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw invalid(`${label}: layer ${what} is missing`);
      throw e;
    }
  } finally {
    await out?.close();
  }
  const digest = `${alg}:${hash.digest('hex')}`;
  if (layer.digest && (digest !== layer.digest || (layer.size !== undefined && size !== layer.size))) {
    throw invalid(`${label}: layer blob ${layer.digest} is corrupt (digest mismatch: content hashes to ${digest}, ${size} bytes)`);
  }
  const comp = sniffCompression(head);
  if (comp !== 'none' && comp !== 'gzip') {
    throw invalid(`${label}: layer ${what} is ${comp}-compressed; nimbo unpacks plain and gzip layers only`);
  }
  const final = join(blobsDir, digest.split(':')[1]!);
  if (copy) {
    await rename(tmp, final);
  } else {
    await symlink(src.path!, final).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e; // the same layer twice
    });
  }
  if (layer.diffId) {
    // docker archives: the layer is identified by its uncompressed digest.
    let diff = digest;
    if (comp === 'gzip') {
      const h = createHash(layer.diffId.split(':')[0]!);
      try {
        for await (const c of createReadStream(final).pipe(createGunzip())) h.update(c as Buffer);
      } catch (e) {
        throw invalid(`${label}: layer ${what} is not valid gzip data: ${(e as Error).message}`);
      }
      diff = `${layer.diffId.split(':')[0]}:${h.digest('hex')}`;
    }
    if (diff !== layer.diffId) throw invalid(`${label}: layer ${what} is corrupt (digest mismatch: expected ${layer.diffId}, content hashes to ${diff})`);
  }
  return { digest, size, mediaType: comp === 'gzip' ? MT.ociLayerGzip : MT.ociLayer };
}
