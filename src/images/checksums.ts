// sha256 checksums of downloaded images: a given hex string, or the line of a SHA256SUMS file. Pure.
import { invalid } from '../lib/errors.js';

/** A sha256 given by a user, lower-cased; InvalidArgument unless it is 64 hex digits (an optional `sha256:` prefix is allowed). */
export function checkSha256(raw: string): string {
  const s = raw.trim().replace(/^sha256:/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw invalid(`checksum ${JSON.stringify(raw.slice(0, 80))} is not a sha256 (64 hexadecimal digits)`);
  return s.toLowerCase();
}

/** The file name a URL's path ends with (decoded), e.g. `debian.qcow2` of https://host/img/debian.qcow2?x=1. */
export function urlFileName(u: URL): string {
  const last = u.pathname.split('/').filter(Boolean).at(-1) ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * The sha256 of `file` in a SHA256SUMS text: GNU lines (`HEX  NAME`, `HEX *NAME`, NAME may start with `./`) or BSD
 * lines (`SHA256 (NAME) = HEX`). InvalidArgument when no line names the file, or two lines disagree.
 */
export function sha256From(sums: string, file: string): string {
  const found = new Set<string>();
  for (const raw of sums.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const gnu = /^\\?([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
    const [hex, name] = gnu ? [gnu[1]!, gnu[2]!] : bsd ? [bsd[2]!, bsd[1]!] : [undefined, undefined];
    if (hex && name && name.replace(/^\.\//, '') === file) found.add(hex.toLowerCase());
  }
  if (found.size === 0) throw invalid(`the SHA256SUMS file has no line for ${file}`);
  if (found.size > 1) throw invalid(`the SHA256SUMS file has different sums for ${file}`);
  return [...found][0]!;
}
