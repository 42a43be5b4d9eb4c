// The small state files beside an instance's disks (a VM's UEFI vars, its TPM state) in a backup: one
// dynamic archive holding them as JSON, written when the driver has any and put back on restore.
import { Readable } from 'node:stream';
import type { BackupManifest } from '../../backup/manifest.js';
import { backupStream, dynamicStream } from '../../backup/dynamic-backup.js';
import { parseDynamicIndex, serializeDynamicIndex } from '../../backup/index-format.js';
import type { BackupWriter } from '../../backup/writer-registry.js';
import { conflict } from '../../lib/errors.js';
import type { OpenStore } from './backup-stores.js';

/** The archive of the state files. */
export const STATE_ARCHIVE = 'vm-state.json.didx';

/** One state file (the driver's exportState/importState). */
export interface StateFile {
  name: string;
  data: Buffer;
}

/** The JSON bytes of a set of state files (pure). */
export function encodeState(files: StateFile[]): Buffer {
  return Buffer.from(JSON.stringify({ format: 1, files: files.map((f) => ({ name: f.name, data: f.data.toString('base64') })) }));
}

/** State files from encodeState's bytes; Conflict when they are not that. */
export function decodeState(buf: Buffer, where: string): StateFile[] {
  const o = JSON.parse(buf.toString('utf8')) as { format?: unknown; files?: { name?: unknown; data?: unknown }[] };
  if (o.format !== 1 || !Array.isArray(o.files) || !o.files.every((f) => typeof f.name === 'string' && typeof f.data === 'string')) {
    throw conflict(`${where}: its state archive is not a format-1 list of files`);
  }
  return o.files.map((f) => ({ name: f.name as string, data: Buffer.from(f.data as string, 'base64') }));
}

/** Store the files as the state archive; returns its index file and manifest entry (nothing when there are none). */
export async function backupState(st: OpenStore, writer: BackupWriter, files: StateFile[], signal?: AbortSignal) {
  if (files.length === 0) return undefined;
  const res = await backupStream(st.ds, st.codec, Readable.from([encodeState(files)]), { writer, signal });
  return {
    stats: res.stats,
    file: { name: STATE_ARCHIVE, data: serializeDynamicIndex(res.index) },
    archive: { name: 'vm-state', type: 'dynamic' as const, size: res.index.size, file: STATE_ARCHIVE },
  };
}

/** The state files a backup carries (none for a backup without the archive: BIOS VMs, containers, older backups). */
export async function restoreState(st: OpenStore, m: BackupManifest): Promise<StateFile[]> {
  if (!m.archives.some((a) => a.file === STATE_ARCHIVE)) return [];
  const index = parseDynamicIndex(await st.ds.readIndexFile(m.project, m.instance.uuid, m.id, STATE_ARCHIVE));
  const parts: Buffer[] = [];
  for await (const c of dynamicStream(st.ds, st.codec, index)) parts.push(c as Buffer);
  return decodeState(Buffer.concat(parts), `backup ${m.id}`);
}
