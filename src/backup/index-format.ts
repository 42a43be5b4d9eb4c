// The index files of a snapshot: which chunks make up each archive. Fixed indexes (disks) list one digest per
// chunkSize of the disk (null: all zeros, never stored); dynamic indexes (CDC streams) list chunk ends and digests.
import { invalid } from '../lib/errors.js';

/** A disk image cut into equal chunks (the last one may be short). */
export interface FixedIndex {
  chunkSize: number;
  size: number;
  /** One per chunk; null = an all-zero chunk. */
  digests: (string | null)[];
}

/** A stream cut at content-defined points: entry i covers [entries[i-1].end, entries[i].end). */
export interface DynamicIndex {
  size: number;
  entries: { end: number; digest: string }[];
}

const DIGEST = /^[0-9a-f]{64}$/;

/** Index file text of a fixed index. */
export function serializeFixedIndex(ix: FixedIndex): string {
  return JSON.stringify({ format: 1, type: 'fixed', chunkSize: ix.chunkSize, size: ix.size, digests: ix.digests }) + '\n';
}

/** Index file text of a dynamic index. */
export function serializeDynamicIndex(ix: DynamicIndex): string {
  return JSON.stringify({ format: 1, type: 'dynamic', size: ix.size, ends: ix.entries.map((e) => e.end), digests: ix.entries.map((e) => e.digest) }) + '\n';
}

function parseDoc(text: string | Buffer, type: string, name: string): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(text.toString());
  } catch {
    throw invalid(`index ${name} is not valid JSON (damaged file?)`);
  }
  const d = o as Record<string, unknown>;
  if (!d || typeof d !== 'object' || d.format !== 1 || d.type !== type) throw invalid(`index ${name} is not a format-1 ${type} index`);
  return d;
}

const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** Parse and validate a fixed index (digest count must match size/chunkSize). */
export function parseFixedIndex(text: string | Buffer, name = 'fixed index'): FixedIndex {
  const d = parseDoc(text, 'fixed', name);
  const { chunkSize, size, digests } = d;
  if (!isSize(chunkSize) || chunkSize === 0 || !isSize(size)) throw invalid(`index ${name}: bad chunkSize or size`);
  if (!Array.isArray(digests) || digests.length !== Math.ceil(size / chunkSize)) {
    throw invalid(`index ${name}: expected ${Math.ceil(size / chunkSize)} digests for ${size} bytes`);
  }
  for (const g of digests) if (g !== null && (typeof g !== 'string' || !DIGEST.test(g))) throw invalid(`index ${name}: bad digest ${String(g).slice(0, 80)}`);
  return { chunkSize, size, digests: digests as (string | null)[] };
}

/** Parse and validate a dynamic index (ends strictly increasing, the last one = size). */
export function parseDynamicIndex(text: string | Buffer, name = 'dynamic index'): DynamicIndex {
  const d = parseDoc(text, 'dynamic', name);
  const { size, ends, digests } = d;
  if (!isSize(size) || !Array.isArray(ends) || !Array.isArray(digests) || ends.length !== digests.length) {
    throw invalid(`index ${name}: bad size, ends or digests`);
  }
  const entries: DynamicIndex['entries'] = [];
  let prev = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i];
    const digest = digests[i];
    if (!isSize(end) || end <= prev) throw invalid(`index ${name}: chunk ends must increase (entry ${i})`);
    if (typeof digest !== 'string' || !DIGEST.test(digest)) throw invalid(`index ${name}: bad digest at entry ${i}`);
    entries.push({ end, digest });
    prev = end;
  }
  if (prev !== size) throw invalid(`index ${name}: chunks cover ${prev} bytes, the index says ${size}`);
  return { size, entries };
}

/** Every digest an index references (with repeats removed). */
export function indexDigests(ix: FixedIndex | DynamicIndex): Set<string> {
  const out = new Set<string>();
  if ('digests' in ix) for (const g of ix.digests) { if (g) out.add(g); }
  else for (const e of ix.entries) out.add(e.digest);
  return out;
}
