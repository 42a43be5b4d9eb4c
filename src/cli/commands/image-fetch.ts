/** `nimbo image import URL`, `image remote add|list|remove`, `image list REMOTE:`, `image fetch REMOTE:IMAGE`. */
import type { GuestArch } from '../../shared/arch-types.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ImageImportUrl, ServedImage } from '../../shared/image-fetch-types.js';
import { CliError, EXIT } from '../errors.js';
import { formatBytes } from '../format.js';
import { outputOption, renderList, type Column } from '../output.js';
import { parseName } from '../validate.js';
import { clientFor, finishOperation, formatOf, out, outResult, withWaitOptions, type WaitOptions } from './common.js';

/** A launch's image argument: NAME, or REMOTE:NAME (an image remote's). */
export function parseImageArg(v: string): string {
  const i = v.indexOf(':');
  if (i < 0) return parseName(v, 'image name');
  return `${parseName(v.slice(0, i), 'image remote name')}:${parseName(v.slice(i + 1), 'image name')}`;
}

/** Whether a source given to `image import` is a URL (SCHEME://...) rather than a file. Pure. */
export function isUrlSource(source: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(source);
}

/** The body of an import from a URL; only http:// and https:// are fetched. Pure. */
export function urlImportBody(url: string, o: { name: string; sha256?: string; sha256sums?: string; arch?: GuestArch }): ImageImportUrl {
  if (!/^https?:\/\//i.test(url)) throw new CliError(`${url}: only http:// and https:// URLs are fetched`, { exitCode: EXIT.usage });
  if (o.sha256 !== undefined && o.sha256sums !== undefined) throw new CliError('give --sha256 or --sha256sums, not both', { exitCode: EXIT.usage });
  return { name: o.name, url, ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}), ...(o.sha256sums !== undefined ? { sha256sums: o.sha256sums } : {}), ...(o.arch ? { arch: o.arch } : {}) };
}

/** The columns of `nimbo image list REMOTE:`. */
export const servedColumns: Column<ServedImage>[] = [
  { header: 'NAME', value: (i) => i.name },
  { header: 'TYPE', value: (i) => i.type },
  { header: 'ARCH', value: (i) => i.arch ?? '' },
  { header: 'FORMAT', value: (i) => i.format },
  { header: 'SIZE', value: (i) => formatBytes(i.size) },
  { header: 'SHA256', value: (i) => i.sha256.slice(0, 12) },
  { header: 'UPDATED', value: (i) => i.updated },
];

/** Run an import from a URL (called by `image import` when its source is a URL). */
export async function importFromUrl(url: string, o: WaitOptions & { name: string; sha256?: string; sha256sums?: string; arch?: GuestArch }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const op = await client.importImageUrl(urlImportBody(url, o));
  await finishOperation(op, client, o, () => `Imported image ${o.name} from ${url}`);
}

/** `image list REMOTE:`: the images a remote serves. */
export async function listRemoteImages(remote: string, cmd: Command): Promise<void> {
  const name = parseName(remote.replace(/:$/, ''), 'remote name');
  out(renderList(await clientFor(cmd).listRemoteImages(name), servedColumns, formatOf(cmd)));
}

/** Register `image remote ...` and `image fetch` under `image`. */
export function registerImageFetchCommands(image: Command): void {
  const remote = image.command('remote').description("other daemons' image servers to fetch REMOTE:IMAGE from (admins and operators)");
  remote
    .command('add')
    .description('add an image remote (the other daemon must run with --image-server)')
    .argument('<name>', 'remote name', (v: string) => parseName(v, 'remote name'))
    .argument('<url>', "the other daemon's URL, e.g. https://host:8443")
    .option('--remote-token-file <file>', "a file holding a token of the other daemon (read access to images); sent only to it (--token-file is this CLI's own token)")
    .option('--ca-file <file>', "https: the PEM CA certificate to trust for it (e.g. the other daemon's STATE/tls/ca.crt)")
    .addOption(outputOption())
    .action(async (name: string, url: string, o: { remoteTokenFile?: string; caFile?: string }, cmd: Command) => {
      let token: string | undefined;
      let ca: string | undefined;
      if (o.caFile !== undefined) {
        try {
          ca = readFileSync(o.caFile, 'utf8');
        } catch (e) {
          throw new CliError(`${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { exitCode: EXIT.usage });
        }
      }
      if (o.remoteTokenFile !== undefined) {
        try {
          token = readFileSync(o.remoteTokenFile, 'utf8').trim();
        } catch (e) {
          throw new CliError(`${o.remoteTokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { exitCode: EXIT.usage });
        }
        if (!token) throw new CliError(`${o.remoteTokenFile} is empty`, { exitCode: EXIT.usage });
      }
      const r = await clientFor(cmd).addImageRemote({ name, url, ...(token ? { token } : {}), ...(ca ? { ca } : {}) });
      outResult(formatOf(cmd), r, `Added image remote ${r.name} (${r.url})`);
    });
  remote
    .command('list')
    .alias('ls')
    .description('list the image remotes')
    .addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const cols: Column<{ name: string; url: string; token: boolean; createdAt: string }>[] = [
        { header: 'NAME', value: (r) => r.name },
        { header: 'URL', value: (r) => r.url },
        { header: 'TOKEN', value: (r) => (r.token ? 'yes' : 'no') },
        { header: 'ADDED', value: (r) => r.createdAt },
      ];
      out(renderList(await clientFor(cmd).listImageRemotes(), cols, formatOf(cmd)));
    });
  remote
    .command('remove')
    .alias('rm')
    .description('remove an image remote (its cached REMOTE:IMAGE images stay until deleted)')
    .argument('<name>', 'remote name', (v: string) => parseName(v, 'remote name'))
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await clientFor(cmd).removeImageRemote(name);
      out(`Removed image remote ${name}`);
    });

  withWaitOptions(
    image
      .command('fetch')
      .description('fetch (or refresh) REMOTE:IMAGE into the local cache; launch REMOTE:IMAGE does this by itself')
      .argument('<ref>', 'REMOTE:IMAGE'),
  ).action(async (ref: string, o: WaitOptions, cmd: Command) => {
    const m = /^([^:]+):([^:]+)$/.exec(ref);
    if (!m) throw new CliError(`${ref}: expected REMOTE:IMAGE`, { exitCode: EXIT.usage });
    const client = clientFor(cmd);
    const op = await client.fetchRemoteImage(parseName(m[1]!, 'remote name'), parseName(m[2]!, 'image name'));
    await finishOperation(op, client, o, () => `Fetched image ${ref}`);
  });
}
