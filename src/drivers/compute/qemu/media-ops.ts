// Live media changes of a VM's CD-ROM drive (argv.ts's ide-cd `cdrom0`), over QMP: open the tray, take the
// medium out and delete its block nodes, then add the new ISO's nodes, insert them and close the tray
// (https://www.qemu.org/docs/master/interop/qemu-qmp-ref.html#command-QMP-block.blockdev-open-tray).
import { isAbsolute } from 'node:path';
import { invalid, notFound } from '../../../lib/errors.js';
import { CDROM_DEVICE_ID, cdromNodeNames } from './argv.js';
import type { BlockInfo } from './block-info.js';
import type { QmpClient } from './qmp.js';

/** The part of QmpClient media changes use. */
export type MediaQmp = Pick<QmpClient, 'execute'>;

/** The CD-ROM drive's query-block entry (qdev: its id, or a QOM path ending in it). */
export function findCdrom(blocks: BlockInfo[]): BlockInfo | undefined {
  return blocks.find((b) => b.qdev === CDROM_DEVICE_ID || b.qdev?.endsWith(`/${CDROM_DEVICE_ID}`) === true);
}

/** The file of the ISO in the running VM's CD-ROM drive, or null when it is empty; NotFound when the VM has no drive. */
export async function currentMedium(qmp: MediaQmp): Promise<string | null> {
  const cd = findCdrom(await qmp.execute<BlockInfo[]>('query-block'));
  if (!cd) throw notFound('CD-ROM drive (this VM was not launched with --iso)');
  return cd.inserted?.file ?? null;
}

/**
 * Put the ISO `path` (read-only raw; QEMU opens it as the VM's uid, so it must be readable by it) in the running
 * VM's CD-ROM drive, or leave the drive empty (null). Whatever is in it is ejected first, even if the guest
 * locked the tray; the tray is closed again, so the guest sees a media change.
 */
export async function changeMedium(qmp: MediaQmp, path: string | null): Promise<void> {
  if (path !== null && (!isAbsolute(path) || /[\0\n]/.test(path))) throw invalid(`ISO path must be absolute: ${JSON.stringify(path)}`);
  const cd = findCdrom(await qmp.execute<BlockInfo[]>('query-block'));
  if (!cd) throw notFound('CD-ROM drive (this VM was not launched with --iso)');
  const id = CDROM_DEVICE_ID;
  const names = cdromNodeNames();
  await qmp.execute('blockdev-open-tray', { id, force: true });
  if (cd.inserted) await qmp.execute('blockdev-remove-medium', { id });
  // The nodes nimbo made (at start or by an earlier insert): deleted once out of the drive, so the names are free again.
  const have = new Set((await qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map((n) => n['node-name']));
  for (const n of [names.format, names.file]) if (have.has(n)) await qmp.execute('blockdev-del', { 'node-name': n });
  if (path !== null) {
    await qmp.execute('blockdev-add', { driver: 'file', 'node-name': names.file, filename: path, 'read-only': true });
    try {
      await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': names.format, file: names.file, 'read-only': true });
      try {
        await qmp.execute('blockdev-insert-medium', { id, 'node-name': names.format });
      } catch (e) {
        await qmp.execute('blockdev-del', { 'node-name': names.format }).catch(() => undefined);
        throw e;
      }
    } catch (e) {
      await qmp.execute('blockdev-del', { 'node-name': names.file }).catch(() => undefined);
      throw e;
    }
  }
  await qmp.execute('blockdev-close-tray', { id });
}
