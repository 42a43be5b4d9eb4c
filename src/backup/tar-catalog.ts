// Reading a tree backup's catalog (JSON lines, as tarTree wrote them): a directory's listing and
// the byte range of one file's data in the tar stream, read line by line (never whole).
import { StringDecoder } from 'node:string_decoder';
import { invalid, notFound } from '../lib/errors.js';
import type { CatalogEntry } from './tar-writer.js';

export type { CatalogEntry } from './tar-writer.js';

/** The catalog's entries, parsed from its JSON-lines bytes (chunks cut anywhere) or from an array of lines. */
export async function* catalogEntries(src: AsyncIterable<Buffer | string> | string[]): AsyncGenerator<CatalogEntry> {
  if (Array.isArray(src)) {
    for (const l of src) if (l.trim()) yield JSON.parse(l) as CatalogEntry;
    return;
  }
  let rest = '';
  const dec = new StringDecoder('utf8'); // a character may be cut between chunks
  for await (const chunk of src) {
    const lines = (rest + (typeof chunk === 'string' ? chunk : dec.write(chunk))).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) yield JSON.parse(l) as CatalogEntry;
  }
  if (rest.trim()) yield JSON.parse(rest) as CatalogEntry;
}

/** '/a/b/' and 'a/b' -> '/a/b'; InvalidArgument for '..'. Pure. */
export function normalizeCatalogPath(p: string): string {
  const parts = p.split('/').filter((x) => x && x !== '.');
  if (parts.includes('..')) throw invalid(`path ${JSON.stringify(p)} may not contain '..'`);
  return `/${parts.join('/')}`;
}

/** The entries directly inside directory `dir` (in archive order); NotFound when the catalog has no such directory. */
export async function catalogList(src: AsyncIterable<Buffer | string> | string[], dir: string): Promise<CatalogEntry[]> {
  const d = normalizeCatalogPath(dir);
  const prefix = d === '/' ? '/' : `${d}/`;
  const out: CatalogEntry[] = [];
  let seen: CatalogEntry | undefined;
  for await (const e of catalogEntries(src)) {
    if (e.path === d) seen = e;
    else if (e.path.startsWith(prefix) && !e.path.slice(prefix.length).includes('/')) out.push(e);
  }
  if (!seen) throw notFound(`directory ${d} in the backup`);
  if (seen.type !== 'dir') throw invalid(`${d} in the backup is a ${seen.type}, not a directory`);
  return out;
}

/** Where one regular file's data lies in the tar stream ({dataOffset, size}); hardlinks resolve to their file. */
export async function catalogFile(src: AsyncIterable<Buffer | string> | string[], path: string): Promise<{ dataOffset: number; size: number; entry: CatalogEntry }> {
  const p = normalizeCatalogPath(path);
  for await (const e of catalogEntries(src)) {
    if (e.path !== p) continue;
    if (e.type !== 'file' && e.type !== 'hardlink') {
      throw invalid(`${p} in the backup is a ${e.type}${e.linkTarget ? ` to ${e.linkTarget}` : ''}, not a regular file`);
    }
    return { dataOffset: e.dataOffset, size: e.size, entry: e };
  }
  throw notFound(`file ${p} in the backup`);
}
