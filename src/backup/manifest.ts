// The manifest of one backup (snapshot): what was backed up, how, and which index file holds each archive.
import { invalid } from '../lib/errors.js';

/** Counters of one backup run. */
export interface BackupStats {
  /** Bytes read from the source (disk or stream). */
  bytesRead: number;
  /** Stored bytes of chunks this backup added. */
  bytesNew: number;
  chunksNew: number;
  chunksReused: number;
  seconds: number;
}

/** One archive of a backup: a disk (fixed index) or a stream such as a tar of a root tree (dynamic index). */
export interface ArchiveEntry {
  name: string;
  type: 'fixed' | 'dynamic';
  /** Bytes of the archive's content (disk size or stream length). */
  size: number;
  /** Index file name inside the snapshot directory. */
  file: string;
  /** The dirty bitmap the next incremental of this disk starts from. */
  bitmap?: string | null;
  /** Why a full read replaced an asked-for incremental. */
  reason?: string;
}

/** The manifest.json of a snapshot. */
export interface BackupManifest {
  format: 1;
  id: string;
  project: string;
  instance: { name: string; uuid: string; type: string };
  /** ISO time the source was captured. */
  time: string;
  source: 'block' | 'filesystem';
  mode: 'full' | 'incremental';
  consistency: string;
  /** The instance's configuration, to recreate it on restore. */
  config: unknown;
  archives: ArchiveEntry[];
  keyFingerprint: string | null;
  stats: BackupStats;
  /** The backup an incremental started from. */
  parent?: string;
}

/** Names used as path parts (project, instance uuid, backup id, index file): no slash, no dot-start. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Throw unless `s` is safe as one path component. */
export function assertSafeName(s: unknown, what: string): asserts s is string {
  if (typeof s !== 'string' || !SAFE_NAME.test(s) || s.includes('..')) throw invalid(`${what} ${JSON.stringify(s)} is not a valid name`);
}

const num = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** Validate a manifest (read from disk or built by a caller). */
export function validateManifest(m: unknown, where = 'manifest'): BackupManifest {
  const o = m as Partial<BackupManifest> | null;
  const bad = (why: string) => invalid(`${where}: ${why}`);
  if (!o || typeof o !== 'object' || o.format !== 1) throw bad('not a format-1 backup manifest');
  assertSafeName(o.id, `${where}: backup id`);
  assertSafeName(o.project, `${where}: project`);
  if (!o.instance || typeof o.instance.name !== 'string' || typeof o.instance.type !== 'string') throw bad('instance must have name, uuid, type');
  assertSafeName(o.instance.uuid, `${where}: instance uuid`);
  if (typeof o.time !== 'string' || Number.isNaN(Date.parse(o.time))) throw bad('time must be an ISO date');
  if (o.source !== 'block' && o.source !== 'filesystem') throw bad('source must be block or filesystem');
  if (o.mode !== 'full' && o.mode !== 'incremental') throw bad('mode must be full or incremental');
  if (typeof o.consistency !== 'string') throw bad('consistency missing');
  if (o.keyFingerprint !== null && typeof o.keyFingerprint !== 'string') throw bad('keyFingerprint must be a string or null');
  if (o.parent !== undefined && typeof o.parent !== 'string') throw bad('parent must be a backup id');
  const s = o.stats;
  if (!s || !['bytesRead', 'bytesNew', 'chunksNew', 'chunksReused', 'seconds'].every((k) => num((s as unknown as Record<string, unknown>)[k]))) {
    throw bad('stats must have bytesRead, bytesNew, chunksNew, chunksReused, seconds');
  }
  if (!Array.isArray(o.archives)) throw bad('archives must be a list');
  const names = new Set<string>();
  for (const a of o.archives) {
    if (!a || typeof a.name !== 'string' || !a.name || (a.type !== 'fixed' && a.type !== 'dynamic') || !num(a.size)) {
      throw bad('each archive needs name, type (fixed|dynamic) and size');
    }
    assertSafeName(a.file, `${where}: archive file`);
    if (a.file === 'manifest.json' || a.file === 'verify.json' || names.has(a.file)) throw bad(`archive file ${a.file} is reserved or repeated`);
    names.add(a.file);
  }
  return o as BackupManifest;
}
