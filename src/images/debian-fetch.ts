// Downloads Debian's own packages of another architecture from the host's Debian mirror: the suite's
// InRelease (signature checked with gpgv and Debian's archive keyring), its Packages.xz (SHA256 from
// InRelease), then each .deb (SHA256 from Packages), cached by file name and checksum. Nothing downloaded
// is ever run on the host: .debs are only unpacked (dpkg-deb -x).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HostExec } from '../host/exec.js';
import { NimboError, notFound } from '../lib/errors.js';
import type { GuestArch } from '../shared/arch-types.js';
import { parsePackages, parseReleaseSha256, type DebPackage } from './debian-packages.js';

/** Debian's archive keyring (package debian-archive-keyring), which signs every suite's InRelease. */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** Used when the host's apt sources name no Debian mirror. */
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/** Where the packages of a guest architecture come from: riscv64 is a release architecture from Debian 13 (trixie) on. */
export const DEBIAN_SOURCES: Readonly<Record<Exclude<GuestArch, 'x86_64'>, { suite: string; debArch: string }>> = {
  aarch64: { suite: 'bookworm', debArch: 'arm64' },
  riscv64: { suite: 'trixie', debArch: 'riscv64' },
};

/** The first Debian mirror of the host's apt sources (deb822 `URIs:` or one-line `deb URI ...`), else deb.debian.org. */
export function mirrorFromSources(texts: string[]): string {
  for (const t of texts) {
    for (const line of t.split('\n')) {
      const m = /^\s*URIs:\s*(\S+)/.exec(line) ?? /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
      const uri = m?.[1];
      if (uri && /^https?:\/\//.test(uri) && /\/debian\/?$/.test(uri)) return uri.replace(/\/$/, '');
    }
  }
  return DEFAULT_MIRROR;
}

/** The host's Debian mirror (read from /etc/apt/sources.list.d/debian.sources and /etc/apt/sources.list). */
export async function hostMirror(): Promise<string> {
  const texts = await Promise.all(['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].map((f) => readFile(f, 'utf8').catch(() => '')));
  return mirrorFromSources(texts);
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** Downloads url to file (through file.part), failing unless its SHA256 is `sha256` (when given); nothing is kept on failure. */
export async function download(url: string, file: string, sha256?: string, timeoutMs = 600_000): Promise<void> {
  const part = `${file}.part`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok || !res.body) throw new NimboError('NotFound', `download ${url}: HTTP ${res.status}`);
    const h = createHash('sha256');
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => h.update(c));
    await pipeline(body, createWriteStream(part, { mode: 0o644 }));
    const got = h.digest('hex');
    if (sha256 !== undefined && got !== sha256) throw new NimboError('Internal', `download ${url}: SHA256 ${got} is not the expected ${sha256}; nothing kept`);
    await rename(part, file);
  } catch (e) {
    await rm(part, { force: true });
    if (e instanceof NimboError) throw e;
    throw new NimboError('Internal', `download ${url} failed: ${(e as Error).message}`);
  }
}

/** The signed text of a clearsigned file (only what gpgv verified: nothing before or after the signed block). */
export function clearsignedText(file: string): string {
  const begin = file.indexOf('-----BEGIN PGP SIGNED MESSAGE-----\n');
  const sig = file.indexOf('\n-----BEGIN PGP SIGNATURE-----');
  if (begin < 0 || sig < begin) throw new NimboError('Internal', 'InRelease is not a clearsigned file');
  const body = file.slice(begin, sig);
  const blank = body.indexOf('\n\n'); // after the Hash: armor headers
  return body.slice(blank + 2);
}

/** A suite's package index of one architecture, verified. */
export interface DebianIndex {
  mirror: string;
  packages: Map<string, DebPackage>;
}

/**
 * The verified Packages index of `suite`/`debArch` (main): InRelease checked by gpgv against Debian's keyring,
 * Packages.xz against InRelease's SHA256 (a cached copy with that checksum is reused).
 */
export async function loadIndex(exec: HostExec, mirror: string, suite: string, debArch: string, cacheDir: string): Promise<DebianIndex> {
  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  if (!(await stat(DEBIAN_KEYRING).catch(() => null))) throw notFound(`Debian's archive keyring ${DEBIAN_KEYRING} (apt-get install debian-archive-keyring)`);
  const inRelease = join(cacheDir, `${suite}_InRelease`);
  await download(`${mirror}/dists/${suite}/InRelease`, inRelease);
  const v = await exec.run(['gpgv', '--keyring', DEBIAN_KEYRING, inRelease], { allowFailure: true });
  if (v.code !== 0) {
    await rm(inRelease, { force: true });
    throw new NimboError('Internal', `the signature of ${mirror}/dists/${suite}/InRelease does not verify with Debian's archive keyring`, { stderr: v.stderr });
  }
  const path = `main/binary-${debArch}/Packages.xz`;
  const want = parseReleaseSha256(clearsignedText(await readFile(inRelease, 'utf8'))).get(path);
  if (!want) throw notFound(`${path} in ${suite}'s InRelease`);
  const xz = join(cacheDir, `${suite}_${debArch}_Packages.xz`);
  const cached = await stat(xz).catch(() => null);
  if (!cached || (await sha256File(xz)) !== want.sha256) await download(`${mirror}/dists/${suite}/${path}`, xz, want.sha256);
  const text = (await exec.run(['xz', '-dc', xz], { maxOutputBytes: 512 * 1024 * 1024, timeoutMs: 300_000 })).stdout;
  return { mirror, packages: parsePackages(text) };
}

/** The .deb of `pkg` in cacheDir (downloaded unless a copy with the index's SHA256 is there already). */
export async function fetchDeb(index: DebianIndex, pkg: DebPackage, cacheDir: string): Promise<string> {
  const file = join(cacheDir, basename(pkg.filename));
  if ((await stat(file).catch(() => null)) && (await sha256File(file)) === pkg.sha256) return file;
  await download(`${index.mirror}/${pkg.filename}`, file, pkg.sha256);
  return file;
}
