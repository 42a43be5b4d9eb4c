/** `nimbo image list|build|import|upload|delete|publish|snapshot`. */
import { isAbsolute, resolve } from 'node:path';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { uploadProgress } from '../upload-progress.js';
import { Option, type Command } from 'commander';
import { GUEST_ARCHES, type GuestArch } from '../../shared/arch-types.js';
import type { ImageBuild } from '../../shared/api-types.js';
import { CliError } from '../errors.js';
import { outputOption } from '../output.js';
import { renderFilteredList, withListOptions, type ListOptions } from '../list-view.js';
import { parseName } from '../validate.js';
import { archColumnsFor, imageColumns, imageFilterKeys } from '../views.js';
import { clientFor, finishOperation, formatOf, out, withWaitOptions, type WaitOptions } from './common.js';
import { attachExamples } from '../examples.js';
import { importFromUrl, isUrlSource, listRemoteImages, registerImageFetchCommands } from './image-fetch.js';

/** Whether a daemon URL points at this machine (so a local path check makes sense). */
export function isLocalUrl(url: string): boolean {
  try {
    const h = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || h.startsWith('127.');
  } catch {
    return false;
  }
}

/** `--arch` of imports and uploads: the guest architecture the disk is for. */
const archOption = () => new Option('--arch <arch>', 'the guest CPU architecture the disk is for (default: x86_64)').choices([...GUEST_ARCHES]);

/** Register the image commands on the program. */
export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('manage images');

  withListOptions(image.command('list').alias('ls').description('list images; with REMOTE: the images an image remote serves').argument('[remote]', 'REMOTE: (an image remote)').addOption(outputOption()), imageColumns(), Object.keys(imageFilterKeys)).action(
    async (remote: string | undefined, o: ListOptions, cmd: Command) => {
      if (remote !== undefined) return listRemoteImages(remote, cmd);
      const items = await clientFor(cmd).listImages();
      out(renderFilteredList(items, archColumnsFor(imageColumns(), items, o.columns), imageFilterKeys, o));
    },
  );

  withWaitOptions(
    image
      .command('build')
      .description('build a built-in image (builders: tiny, debian-12)')
      .argument('<name>', 'image name', (v: string) => parseName(v, 'image name'))
      .option('--builder <builder>', 'builder to use (default: the image name)'),
  ).action(async (name: string, o: WaitOptions & { builder?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const body: ImageBuild = { name };
    if (o.builder) body.builder = o.builder;
    const op = await client.buildImage(body);
    await finishOperation(op, client, o, () => `Built image ${name}`);
  });

  withWaitOptions(
    image
      .command('import')
      .description("import a qcow2/raw disk file, or an OCI image (layout directory, its tar, or a docker-archive tar) for application containers, from the daemon's host; or a qcow2/raw disk image the daemon downloads from an http(s) URL (resumed when cut, checked with --sha256 or --sha256sums)")
      .argument('<file>', 'image file (a relative path is made absolute), or an http:// or https:// URL')
      .requiredOption('--name <name>', 'image name', (v: string) => parseName(v, 'image name'))
      .option('--sha256 <hex>', 'URL: the sha256 the download must have')
      .option('--sha256sums <url>', "URL: a SHA256SUMS file whose line for the URL's file name gives the sha256")
      .addOption(archOption()),
  ).action(async (file: string, o: WaitOptions & { name: string; sha256?: string; sha256sums?: string; arch?: GuestArch }, cmd: Command) => {
    if (isUrlSource(file)) return importFromUrl(file, o, cmd);
    if (o.sha256 !== undefined || o.sha256sums !== undefined) throw new CliError('--sha256 and --sha256sums check downloads: give an http(s) URL');
    const client = clientFor(cmd);
    const path = isAbsolute(file) ? file : resolve(file);
    // The daemon reads the file itself; on a local daemon a missing file can be caught here already.
    if (isLocalUrl(client.baseUrl) && !existsSync(path)) throw new CliError(`${path}: no such file`);
    const op = await client.importImage({ name: o.name, path, ...(o.arch ? { arch: o.arch } : {}) });
    await finishOperation(op, client, o, () => `Imported image ${o.name} from ${path}`);
  });

  withWaitOptions(
    image
      .command('upload')
      .description("send a qcow2/raw disk file or an ISO 9660 image (type iso) from this machine to nimbod (streamed, progress on stderr), imported as a public image; the daemon's --upload-max caps its size")
      .argument('<file>', 'disk image file (qcow2 or raw) or ISO 9660 image')
      .requiredOption('--name <name>', 'image name', (v: string) => parseName(v, 'image name'))
      .addOption(archOption()),
  ).action(async (file: string, o: WaitOptions & { name: string; arch?: GuestArch }, cmd: Command) => {
    const client = clientFor(cmd);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new CliError(`${file}: no such file`);
    const body = createReadStream(file).pipe(uploadProgress(st.size, process.stderr));
    const op = await client.uploadImage(o.name, body, st.size, o.arch);
    await finishOperation(op, client, o, () => `Uploaded image ${o.name} from ${file}`);
  });

  withWaitOptions(
    image.command('delete').alias('rm').description("delete an image: the project's private one of that name, else the public one (admins and operators)").argument('<name>', 'image name'),
  ).action(async (name: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const priv = (await client.getImage(name)).visibility === 'private';
    const op = priv ? await client.deletePrivateImage(name) : await client.deleteImage(name);
    await finishOperation(op, client, o, () => `Deleted ${priv ? 'private ' : ''}image ${name}`);
  });

  withWaitOptions(
    image
      .command('publish')
      .description("make a private image of the project from a stopped VM's disk; launch it by name in this project")
      .argument('<instance>', 'a stopped VM', (v: string) => parseName(v, 'instance name'))
      .argument('<name>', 'the image name', (v: string) => parseName(v, 'image name')),
  ).action(async (instance: string, name: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.publishImage(instance, name);
    await finishOperation(op, client, o, () => `Published image ${name} from ${instance}`);
  });
  registerImageFetchCommands(image);
  withWaitOptions(
    image
      .command('snapshot')
      .description("save a running VM (its memory and disk, at one instant; it keeps running) as a private template image; launches from it restore the booted guest instead of booting it")
      .argument('<name>', 'the template image name', (v: string) => parseName(v, 'image name'))
      .requiredOption('--from-running <vm>', 'a running VM of the project', (v: string) => parseName(v, 'instance name')),
  ).action(async (name: string, o: WaitOptions & { fromRunning: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.snapshotImage(name, o.fromRunning);
    await finishOperation(op, client, o, () => `Saved template image ${name} from running VM ${o.fromRunning}`);
  });
  attachExamples(image);
}
