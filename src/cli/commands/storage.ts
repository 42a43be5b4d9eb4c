/** `nimbo storage pool ...` and `nimbo storage volume ...` (volumes, their snapshots, attach/detach). */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { IoLimits, PoolCreate, VolumeClone, VolumeCreate } from '../../shared/storage-types.js';
import { CliError, EXIT } from '../errors.js';
import { formatBytes } from '../format.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { renderFilteredList, withListOptions, type ListOptions } from '../list-view.js';
import { poolColumns, poolFields, poolFilterKeys, snapshotColumns, volumeColumns, volumeFields, volumeFilterKeys } from '../storage-views.js';
import { intInRange, parseName, parseSize, sizeToBytes } from '../validate.js';
import { clientFor, finishOperation, formatOf, out, withWaitOptions, type WaitOptions } from './common.js';
import { isLocalUrl } from './images.js';
import { attachExamples } from '../examples.js';

const MAX_IOPS = 1_000_000_000;
const MAX_BPS = 1e15;
type Format = 'qcow2' | 'raw';

/** A path made absolute against the current directory (the daemon needs absolute paths). */
export function absolutePath(file: string): string {
  return isAbsolute(file) ? file : resolve(file);
}

/** Check a bandwidth limit ("10MiB", "10MiB/s", or 0 = unlimited); returns bytes per second. */
export function parseRate(value: string, what = 'rate'): number {
  const v = value.trim().replace(/\s*\/\s*s$/i, '');
  if (/^0+$/.test(v)) return 0;
  const bytes = Math.round(sizeToBytes(parseSize(v, what)));
  if (bytes > MAX_BPS) throw new InvalidArgumentError(`${what} "${value}" is too large (at most 1e15 bytes/s)`);
  return bytes;
}

interface PoolCreateOptions {
  driver: PoolCreate['driver'];
  path?: string;
  format?: Format;
}

/** Build the POST /storage/pools body from `pool create` arguments. */
export function poolCreateBody(name: string, o: PoolCreateOptions): PoolCreate {
  const body: PoolCreate = { name, driver: o.driver };
  if (o.path !== undefined) body.path = absolutePath(o.path);
  if (o.format !== undefined) body.format = o.format;
  return body;
}

/** Options of `volume limits`. */
export interface LimitsOptions {
  iopsRead?: number;
  iopsWrite?: number;
  bpsRead?: number;
  bpsWrite?: number;
}

/** The `limits` of a PATCH body from `volume limits` options; throws when none is given. */
export function limitsBody(o: LimitsOptions): Partial<IoLimits> {
  const limits: Partial<IoLimits> = {};
  if (o.iopsRead !== undefined) limits.iopsRead = o.iopsRead;
  if (o.iopsWrite !== undefined) limits.iopsWrite = o.iopsWrite;
  if (o.bpsRead !== undefined) limits.bytesRead = o.bpsRead;
  if (o.bpsWrite !== undefined) limits.bytesWrite = o.bpsWrite;
  if (Object.keys(limits).length === 0) {
    throw new CliError('nothing to set: give --iops-read, --iops-write, --bps-read and/or --bps-write (0 = unlimited)', { exitCode: EXIT.usage });
  }
  return limits;
}

/** The limits just set, for the summary line: "iops-read 500, bps-write unlimited". */
export function describeLimits(l: Partial<IoLimits>): string {
  const parts: string[] = [];
  const show = (n: number, text: string) => (n === 0 ? 'unlimited' : text);
  if (l.iopsRead !== undefined) parts.push(`iops-read ${show(l.iopsRead, String(l.iopsRead))}`);
  if (l.iopsWrite !== undefined) parts.push(`iops-write ${show(l.iopsWrite, String(l.iopsWrite))}`);
  if (l.bytesRead !== undefined) parts.push(`bps-read ${show(l.bytesRead, `${formatBytes(l.bytesRead)}/s`)}`);
  if (l.bytesWrite !== undefined) parts.push(`bps-write ${show(l.bytesWrite, `${formatBytes(l.bytesWrite)}/s`)}`);
  return parts.join(', ');
}

/** Build the clone body from `volume clone` arguments (no --full: the daemon picks, linked where it can). */
export function cloneBody(target: string, o: { full?: boolean; fromSnapshot?: string }): VolumeClone {
  const body: VolumeClone = { target };
  if (o.full) body.mode = 'full';
  if (o.fromSnapshot !== undefined) body.fromSnapshot = o.fromSnapshot;
  return body;
}

const formatOption = (what: string) => new Option('--format <format>', what).choices(['qcow2', 'raw']);
const nameArg = (what: string) => (v: string) => parseName(v, what);

/** Register `nimbo storage pool ...`. */
function registerPoolCommands(storage: Command): void {
  const pool = storage.command('pool').description('manage storage pools');

  withWaitOptions(
    pool
      .command('create')
      .description('create a storage pool')
      .argument('<name>', 'pool name (DNS label)', nameArg('pool name'))
      .addOption(new Option('--driver <driver>', 'storage driver').choices(['dir', 'btrfs']).makeOptionMandatory())
      .option('--path <dir>', "directory on the daemon's host (a relative path is made absolute; default: STATE/pools/NAME)")
      .addOption(formatOption('format of block volumes (default: qcow2)')),
  ).action(async (name: string, o: WaitOptions & PoolCreateOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.createPool(poolCreateBody(name, o));
    await finishOperation(op, client, o, async () => {
      const p = await client.getPool(name).catch(() => undefined);
      return p ? `Created pool ${name} (${p.driver} at ${p.path}, ${formatBytes(p.available)} available)` : `Created pool ${name}`;
    });
  });

  withListOptions(pool.command('list').alias('ls').description('list storage pools').addOption(outputOption()), poolColumns(), Object.keys(poolFilterKeys)).action(
    async (o: ListOptions, cmd: Command) => {
      out(renderFilteredList(await clientFor(cmd).listPools(), poolColumns(), poolFilterKeys, o));
    },
  );

  pool
    .command('info')
    .description('show one storage pool: space, over-provisioning, capabilities')
    .argument('<name>', 'pool name')
    .addOption(outputOption())
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const p = await clientFor(cmd).getPool(name);
      out(renderDetail(p, poolFields(p), formatOf(cmd)));
    });

  withWaitOptions(pool.command('delete').alias('rm').description('delete a storage pool').argument('<name>', 'pool name')).action(
    async (name: string, o: WaitOptions, cmd: Command) => {
      const client = clientFor(cmd);
      const op = await client.deletePool(name);
      await finishOperation(op, client, o, () => `Deleted pool ${name}`);
    },
  );
}

/** Register `nimbo storage volume snapshot ...`. */
function registerSnapshotCommands(volume: Command): void {
  const snapshot = volume.command('snapshot').alias('snap').description('manage snapshots of a volume');

  withWaitOptions(
    snapshot
      .command('create')
      .description('take a snapshot of a volume')
      .argument('<pool>', 'pool name')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name (DNS label)', nameArg('snapshot name')),
  ).action(async (pool: string, vol: string, snap: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.createSnapshot(pool, vol, snap);
    await finishOperation(op, client, o, () => `Created snapshot ${snap} of ${pool}/${vol}`);
  });

  snapshot
    .command('list')
    .alias('ls')
    .description('list the snapshots of a volume')
    .argument('<pool>', 'pool name')
    .argument('<volume>', 'volume name')
    .addOption(outputOption())
    .action(async (pool: string, vol: string, _o: unknown, cmd: Command) => {
      out(renderList(await clientFor(cmd).listSnapshots(pool, vol), snapshotColumns(), formatOf(cmd)));
    });

  withWaitOptions(
    snapshot
      .command('restore')
      .description('roll a volume back to a snapshot (its later changes are lost)')
      .argument('<pool>', 'pool name')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name'),
  ).action(async (pool: string, vol: string, snap: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.restoreSnapshot(pool, vol, snap);
    await finishOperation(op, client, o, () => `Restored ${pool}/${vol} to snapshot ${snap}`);
  });

  withWaitOptions(
    snapshot
      .command('delete')
      .alias('rm')
      .description('delete a snapshot of a volume')
      .argument('<pool>', 'pool name')
      .argument('<volume>', 'volume name')
      .argument('<snapshot>', 'snapshot name'),
  ).action(async (pool: string, vol: string, snap: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.deleteSnapshot(pool, vol, snap);
    await finishOperation(op, client, o, () => `Deleted snapshot ${snap} of ${pool}/${vol}`);
  });
}

/** Register `nimbo storage volume ...`. */
function registerVolumeCommands(storage: Command): void {
  const volume = storage.command('volume').alias('vol').description('manage the volumes of a storage pool');

  withWaitOptions(
    volume
      .command('create')
      .description('create a volume in a pool')
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name (DNS label)', nameArg('volume name'))
      .requiredOption('--size <size>', 'virtual disk size (block) or quota (filesystem), e.g. 10GiB', (v: string) => parseSize(v, 'size'))
      .addOption(new Option('--kind <kind>', 'block: a virtual disk (VMs); filesystem: a directory (default: block)').choices(['block', 'filesystem'])),
  ).action(async (pool: string, name: string, o: WaitOptions & { size: string; kind?: VolumeCreate['kind'] }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: VolumeCreate = { name, size: o.size };
    if (o.kind) body.kind = o.kind;
    const op = await client.createVolume(pool, body);
    await finishOperation(op, client, o, () => `Created volume ${pool}/${name} (${o.kind ?? 'block'}, ${o.size})`);
  });

  withListOptions(
    volume.command('list').alias('ls').description('list the volumes of a pool').argument('<pool>', 'pool name').addOption(outputOption()),
    volumeColumns(),
    Object.keys(volumeFilterKeys),
  ).action(async (pool: string, o: ListOptions, cmd: Command) => {
    out(renderFilteredList(await clientFor(cmd).listVolumes(pool), volumeColumns(), volumeFilterKeys, o));
  });

  volume
    .command('info')
    .description('show one volume')
    .argument('<pool>', 'pool name')
    .argument('<name>', 'volume name')
    .addOption(outputOption())
    .action(async (pool: string, name: string, _o: unknown, cmd: Command) => {
      const v = await clientFor(cmd).getVolume(pool, name);
      out(renderDetail(v, volumeFields(v), formatOf(cmd)));
    });

  withWaitOptions(
    volume
      .command('delete')
      .alias('rm')
      .description('delete a volume')
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name')
      .option('--force', 'also when attached to a stopped instance (it is detached first)'),
  ).action(async (pool: string, name: string, o: WaitOptions & { force?: boolean }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.deleteVolume(pool, name, o.force === true);
    await finishOperation(op, client, o, () => `Deleted volume ${pool}/${name}`);
  });

  withWaitOptions(
    volume
      .command('resize')
      .description('grow a volume (shrinking is refused)')
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name')
      .argument('<size>', 'new size, e.g. 20GiB', (v: string) => parseSize(v, 'size')),
  ).action(async (pool: string, name: string, size: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.patchVolume(pool, name, { size });
    await finishOperation(op, client, o, () => `Resized ${pool}/${name} to ${size}`);
  });

  withWaitOptions(
    volume
      .command('rename')
      .description('rename a volume')
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name')
      .argument('<new-name>', 'new volume name (DNS label)', nameArg('volume name')),
  ).action(async (pool: string, name: string, newName: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.patchVolume(pool, name, { name: newName });
    await finishOperation(op, client, o, () => `Renamed ${pool}/${name} to ${pool}/${newName}`);
  });

  withWaitOptions(
    volume
      .command('limits')
      .description('set the I/O limits of a volume (0 = unlimited; applied live when attached)')
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name')
      .option('--iops-read <n>', 'read operations per second', intInRange('--iops-read', 0, MAX_IOPS))
      .option('--iops-write <n>', 'write operations per second', intInRange('--iops-write', 0, MAX_IOPS))
      .option('--bps-read <size>', 'read bytes per second, e.g. 50MiB', (v: string) => parseRate(v, '--bps-read'))
      .option('--bps-write <size>', 'write bytes per second, e.g. 50MiB', (v: string) => parseRate(v, '--bps-write')),
  ).action(async (pool: string, name: string, o: WaitOptions & LimitsOptions, cmd: Command) => {
    const limits = limitsBody(o);
    const client = clientFor(cmd);
    const op = await client.patchVolume(pool, name, { limits });
    await finishOperation(op, client, o, () => `Set I/O limits of ${pool}/${name}: ${describeLimits(limits)}`);
  });

  withWaitOptions(
    volume
      .command('clone')
      .description('copy a volume in its pool (linked where the pool can, unless --full)')
      .argument('<pool>', 'pool name')
      .argument('<source>', 'volume to copy')
      .argument('<target>', 'name of the new volume (DNS label)', nameArg('volume name'))
      .option('--full', 'make an independent full copy')
      .option('--from-snapshot <snapshot>', 'copy the volume as it was at this snapshot'),
  ).action(async (pool: string, source: string, target: string, o: WaitOptions & { full?: boolean; fromSnapshot?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.cloneVolume(pool, source, cloneBody(target, o));
    const from = o.fromSnapshot ? ` (snapshot ${o.fromSnapshot})` : '';
    await finishOperation(op, client, o, () => `Cloned ${pool}/${source}${from} to ${pool}/${target}${o.full ? ' (full copy)' : ''}`);
  });

  withWaitOptions(
    volume
      .command('import')
      .description("import a qcow2/raw disk file that is on the daemon's host as a new volume")
      .argument('<pool>', 'pool name')
      .argument('<file>', 'disk file (a relative path is made absolute)')
      .requiredOption('--name <name>', 'volume name (DNS label)', nameArg('volume name'))
      .addOption(formatOption('format of the file (default: detected)')),
  ).action(async (pool: string, file: string, o: WaitOptions & { name: string; format?: Format }, cmd: Command) => {
    const client = clientFor(cmd);
    const path = absolutePath(file);
    // The daemon reads the file itself; on a local daemon a missing file can be caught here already.
    if (isLocalUrl(client.baseUrl) && !existsSync(path)) throw new CliError(`${path}: no such file`);
    const op = await client.importVolume(pool, { name: o.name, path, ...(o.format ? { format: o.format } : {}) });
    await finishOperation(op, client, o, () => `Imported ${pool}/${o.name} from ${path}`);
  });

  withWaitOptions(
    volume
      .command('export')
      .description("export a volume to a new qcow2/raw file on the daemon's host")
      .argument('<pool>', 'pool name')
      .argument('<name>', 'volume name')
      .argument('<file>', 'file to write (a relative path is made absolute)')
      .addOption(formatOption('format of the file (default: qcow2)')),
  ).action(async (pool: string, name: string, file: string, o: WaitOptions & { format?: Format }, cmd: Command) => {
    const client = clientFor(cmd);
    const path = absolutePath(file);
    const op = await client.exportVolume(pool, name, { path, ...(o.format ? { format: o.format } : {}) });
    await finishOperation(op, client, o, () => `Exported ${pool}/${name} to ${path}`);
  });

  registerSnapshotCommands(volume);

  withWaitOptions(
    volume
      .command('attach')
      .description('attach a volume to an instance (hot-plugged when it runs): a block volume to a VM, a filesystem volume to a container at --path')
      .argument('<instance>', 'instance name')
      .argument('<pool>', 'pool name')
      .argument('<volume>', 'volume name')
      .option('--path <dir>', 'containers: where the filesystem volume is mounted, e.g. /srv/data'),
  ).action(async (instance: string, pool: string, vol: string, o: WaitOptions & { path?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.attachVolume(instance, { pool, volume: vol, ...(o.path ? { path: o.path } : {}) });
    await finishOperation(op, client, o, () => `Attached ${pool}/${vol} to ${instance}${o.path ? ` at ${o.path}` : ''}`);
  });

  withWaitOptions(
    volume
      .command('detach')
      .description('detach a volume from an instance')
      .argument('<instance>', 'instance name')
      .argument('<pool>', 'pool name')
      .argument('<volume>', 'volume name'),
  ).action(async (instance: string, pool: string, vol: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.detachVolume(instance, pool, vol);
    await finishOperation(op, client, o, () => `Detached ${pool}/${vol} from ${instance}`);
  });
}

/** Register the storage commands on the program. */
export function registerStorageCommands(program: Command): void {
  const storage = program.command('storage').description('manage storage pools, volumes and snapshots');
  registerPoolCommands(storage);
  registerVolumeCommands(storage);
  attachExamples(storage);
}
