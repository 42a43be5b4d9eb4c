// Image remotes: other daemons whose image servers this daemon fetches images from (REMOTE:NAME). Kept in the
// store (admins and operators manage them); a remote's token is sent only to it and never shown.
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import { validateName } from '../lib/validate.js';
import { checkDownloadUrl, fetchText } from '../host/http-download.js';
import type { ImageRemote, ServedImage } from '../shared/image-fetch-types.js';
import { keys } from '../store/keys.js';
import type { BaseDeps } from './deps.js';

/** An image remote as kept in the store. */
export interface ImageRemoteRecord {
  name: string;
  /** The other daemon's base URL (no trailing slash). */
  url: string;
  token?: string;
  /** PEM CA certificate(s) trusted for this remote (https). */
  ca?: string;
  createdAt: string;
}

/** The base URL of a remote daemon (http or https, no credentials, query or fragment; no trailing slash). Pure. */
export function remoteBaseUrl(raw: string): string {
  const u = checkDownloadUrl(raw, 'remote URL');
  if (u.search) throw invalid('a remote URL has no query: give the daemon\'s base URL, e.g. https://host:8443');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** The index of an image server, checked: a list of images each with a name and files with sizes and sums. Pure. */
export function parseIndex(text: string, from: string): ServedImage[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid(`the image server at ${from} sent an index that is not JSON`);
  }
  const images = (raw as { images?: unknown })?.images;
  if (!Array.isArray(images)) throw invalid(`the image server at ${from} sent an index without images`);
  const ok = (i: ServedImage) =>
    typeof i?.name === 'string' && typeof i.format === 'string' && Number.isSafeInteger(i.size) && Array.isArray(i.files) && i.files.length > 0 &&
    i.files.every((f) => typeof f?.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(f.name) && Number.isSafeInteger(f.size) && f.size >= 0 && /^[0-9a-f]{64}$/.test(f.sha256)) &&
    typeof i.boot?.kind === 'string';
  return (images as ServedImage[]).filter(ok);
}

/** The image remotes of this daemon. */
export class ImageRemotes {
  constructor(private d: BaseDeps) {}

  /** The API view of a record (no token). */
  view(r: ImageRemoteRecord): ImageRemote {
    return { name: r.name, url: r.url, token: !!r.token, createdAt: r.createdAt };
  }

  async list(): Promise<ImageRemoteRecord[]> {
    return (await this.d.store.list<ImageRemoteRecord>(keys.imageRemotes)).map((kv) => kv.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<ImageRemoteRecord> {
    const kv = await this.d.store.get<ImageRemoteRecord>(keys.imageRemote(name));
    if (!kv) throw notFound(`image remote ${name} (nimbo image remote list shows them)`);
    return kv.value;
  }

  /** Add a remote after asking its image server for its index (refused when it does not answer with one). */
  async add(name: string, url: string, token?: string, ca?: string): Promise<ImageRemoteRecord> {
    validateName(name, 'remote name');
    if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw invalid('the CA must be PEM certificate(s) (-----BEGIN CERTIFICATE-----)');
    const rec: ImageRemoteRecord = { name, url: remoteBaseUrl(url), ...(token ? { token } : {}), ...(ca ? { ca } : {}), createdAt: new Date().toISOString() };
    if (await this.d.store.get(keys.imageRemote(name))) throw conflict(`image remote ${name} exists already`);
    try {
      await this.index(rec);
    } catch (e) {
      throw new NimboError('InvalidArgument', `${rec.url} does not answer as an image server: ${(e as Error).message}`, undefined, e);
    }
    await this.d.store.put(keys.imageRemote(name), rec, { expectRevision: 0 });
    return rec;
  }

  async remove(name: string): Promise<void> {
    await this.get(name);
    await this.d.store.delete(keys.imageRemote(name));
  }

  /** The headers of a request to a remote (its token, if any). */
  headers(r: ImageRemoteRecord): Record<string, string> {
    return r.token ? { authorization: `Bearer ${r.token}` } : {};
  }

  /** The images a remote serves. */
  async index(r: ImageRemoteRecord, signal?: AbortSignal): Promise<ServedImage[]> {
    const url = `${r.url}/api/v1/image-server/index`;
    const text = await fetchText(new URL(url), { headers: this.headers(r), maxBytes: 16 * 1024 * 1024, timeoutMs: 15_000, ...(signal ? { signal } : {}), ...(r.ca ? { ca: r.ca } : {}) });
    return parseIndex(text, r.url);
  }

  /** One image of a remote's index; NotFound when it serves none of that name. */
  async image(r: ImageRemoteRecord, image: string, signal?: AbortSignal): Promise<ServedImage> {
    const found = (await this.index(r, signal)).find((i) => i.name === image);
    if (!found) throw notFound(`image ${image} on image remote ${r.name} (nimbo image list ${r.name}: shows its images)`);
    return found;
  }
}
