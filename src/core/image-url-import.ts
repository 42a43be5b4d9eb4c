// `nimbo image import URL`: the daemon downloads a disk image over HTTP(S) into the images dir's staging area
// (streamed, resumed when cut, capped like an upload), checks its sha256 (given, or from a SHA256SUMS file), then
// imports it like a local file (qemu-img validation, qcow2 or raw). Whatever fails, nothing is kept.
import type { GuestArch } from '../shared/arch-types.js';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NimboError, conflict, invalid } from '../lib/errors.js';
import { validateName } from '../lib/validate.js';
import { checkDownloadUrl, download, fetchText, redactUrl } from '../host/http-download.js';
import { checkSha256, sha256From, urlFileName } from '../images/checksums.js';
import { importImage } from '../images/import.js';
import type { BaseDeps } from './deps.js';
import type { ImageRecord, ImageService } from './image-service.js';
import { freeBytes, UPLOAD_MAX_BYTES } from './image-upload.js';
import { keys } from '../store/keys.js';

/** What an import from a URL asks for (the body of POST /images/import-url). */
export interface UrlImportRequest {
  name: string;
  url: string;
  /** The file's sha256 (hex). */
  sha256?: string;
  /** A SHA256SUMS file whose line for the URL's file name gives the sha256. */
  sha256sums?: string;
  /** The guest architecture of the disk (default x86_64). */
  arch?: GuestArch;
}

/** Share of the Operation's progress that the download takes (the qemu-img import takes the rest). */
const DOWNLOAD_SHARE = 80;

/** Checks a URL import request; the URL, the sha256 given (if any) and the SHA256SUMS URL (if any). Pure. */
export function checkUrlImport(req: UrlImportRequest): { url: URL; sha256?: string; sums?: URL } {
  validateName(req.name, 'image name');
  const url = checkDownloadUrl(req.url);
  if (req.sha256 !== undefined && req.sha256sums !== undefined) throw invalid('give the sha256 or a SHA256SUMS URL, not both');
  const sums = req.sha256sums !== undefined ? checkDownloadUrl(req.sha256sums, 'SHA256SUMS URL') : undefined;
  if (sums && !urlFileName(url)) throw invalid(`${redactUrl(url)} names no file to look up in the SHA256SUMS file`);
  return { url, ...(req.sha256 !== undefined ? { sha256: checkSha256(req.sha256) } : {}), ...(sums ? { sums } : {}) };
}

/** Imports of disk images from HTTP(S) URLs, each an Operation of the image service. */
export class UrlImports {
  constructor(private d: BaseDeps, private images: ImageService) {}

  /** Start the import of `req.url` as public image `req.name` (refused before anything is made when the request is bad). */
  async start(req: UrlImportRequest) {
    const { url, sha256, sums } = checkUrlImport(req);
    const existing = await this.d.store.get<ImageRecord>(keys.image(req.name));
    if (existing && existing.value.status !== 'error') throw conflict(`image ${req.name} already exists`);
    const file = urlFileName(url) || 'download';
    // Filled in by the body before it returns: the record keeps the sha256 of what was downloaded.
    const fetched = { from: redactUrl(url), sha256: {} as Record<string, string> };
    return this.images.produce(req.name, `url:${redactUrl(url)}`, async (outDir, ctx) => {
      const expected = sha256 ?? (sums ? sha256From(await fetchText(sums, { signal: ctx.signal }), file) : undefined);
      if (sums) ctx.log(`sha256 of ${file} from ${redactUrl(sums)}: ${expected}`);
      const tmp = join(this.d.paths.images, `.build-fetch-${randomUUID()}`);
      try {
        const max = Math.min(this.d.config.uploadMaxBytes ?? UPLOAD_MAX_BYTES, await freeBytes(this.d.paths.images));
        let last = 0;
        const r = await download(url, tmp, {
          maxBytes: max,
          signal: ctx.signal,
          // At most twice a second: each report is a write of the Operation record.
          progress: (bytes, total) => {
            if (Date.now() - last < 500 && bytes !== total) return;
            last = Date.now();
            ctx.progress(total ? Math.floor((bytes / total) * DOWNLOAD_SHARE) : 0, `downloading ${bytes}/${total ?? '?'} bytes`);
          },
          onResume: (from, why) => ctx.log(`download cut (${why}); resuming at byte ${from}`),
        });
        ctx.log(`downloaded ${r.bytes} bytes${r.resumes ? ` (${r.resumes} resumes)` : ''}, sha256 ${r.sha256}`);
        if (expected && r.sha256 !== expected) {
          throw new NimboError('InvalidArgument', `checksum mismatch for ${redactUrl(url)}: expected sha256 ${expected}, got ${r.sha256}; the download was deleted`);
        }
        fetched.sha256[file] = r.sha256;
        ctx.checkCancelled();
        const share = 100 - DOWNLOAD_SHARE;
        return await importImage({ exec: this.d.exec, file: tmp, name: req.name, outDir, arch: req.arch, progress: (p, m) => ctx.progress(DOWNLOAD_SHARE + Math.floor((p * share) / 100), m) });
      } finally {
        await rm(tmp, { force: true });
      }
    }, fetched);
  }
}
