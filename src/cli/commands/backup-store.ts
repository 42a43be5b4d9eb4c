/** `nimbo backup store ...`: datastores (create or attach, list, info, delete, sync from another daemon). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { BackupStore, BackupStoreCreate } from '../../shared/backup-types.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList } from '../output.js';
import { parseName } from '../validate.js';
import { readSecret } from '../password-input.js';
import { clientFor, finishOperation, formatOf, out, withWaitOptions, type WaitOptions } from './common.js';
import { humanBytes } from './backup-views.js';

const enc = encodeURIComponent;

/** The first line of a file holding a secret (a passphrase, a token). */
function secretFile(path: string, what: string): string {
  const v = readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? '';
  if (!v) throw new CliError(`${path} holds no ${what} on its first line`, { exitCode: EXIT.usage });
  return v;
}

function storeFields(s: BackupStore): [string, string][] {
  return [
    ['name', s.name], ['id', s.id], ...(s.path ? [['path', s.path] as [string, string]] : []),
    ['encrypted', s.encrypted ? `yes (key ${s.keyFingerprint})` : 'no'], ['created', s.createdAt],
    ...(s.usage ? [['chunks', `${s.usage.chunks} (${humanBytes(s.usage.bytes)})`] as [string, string], ['available', humanBytes(s.usage.available)] as [string, string]] : []),
  ];
}

/** Register `nimbo backup store` under `backup`. */
export function registerBackupStoreCommands(backup: Command): void {
  const store = backup.command('store').description('backup datastores: directories on the daemon host (another disk, a mounted remote filesystem)');
  store.command('create').description('create a datastore in an empty directory, or attach the one a directory holds (an encrypted one asks its passphrase)')
    .argument('<name>', 'store name', (v: string) => parseName(v, 'store name'))
    .requiredOption('--path <dir>', 'absolute directory on the daemon host')
    .option('--encrypt', 'encrypt with AES-256-GCM under a new key, wrapped by a passphrase (asked, or --passphrase-file)')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file')
    .option('--key-file <file>', 'with --encrypt: use the key `nimbo backup store key` printed for another store (to sync between them)')
    .addOption(outputOption())
    .action(async (name: string, o: { path: string; encrypt?: boolean; passphraseFile?: string; keyFile?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const body: BackupStoreCreate = { name, path: o.path, ...(o.encrypt ? { encrypt: true } : {}) };
      if (o.keyFile) body.wrappedKey = JSON.parse(readFileSync(o.keyFile, 'utf8')) as BackupStoreCreate['wrappedKey'];
      if (o.passphraseFile) body.passphrase = secretFile(o.passphraseFile, 'passphrase');
      else if (o.encrypt) body.passphrase = await readSecret('passphrase (it wraps the store key; lose it and the key file, and the backups are lost): ', true);
      try {
        const s = await client.json<BackupStore>('POST', '/backup-stores', { body });
        out(renderDetail(s, storeFields(s), formatOf(cmd)));
      } catch (e) {
        // Attaching an encrypted store without a passphrase: ask once and try again.
        if (!(e instanceof CliError) || body.passphrase || !/give its passphrase/.test(e.message)) throw e;
        body.passphrase = await readSecret('passphrase of the datastore: ');
        const s = await client.json<BackupStore>('POST', '/backup-stores', { body });
        out(renderDetail(s, storeFields(s), formatOf(cmd)));
      }
    });
  store.command('key').description("print the store's key wrapped by its passphrase (JSON): keep a copy offline; another store made with --key-file uses the same key").argument('<name>', 'store name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      out(JSON.stringify(await clientFor(cmd).json('GET', `/backup-stores/${enc(name)}/key`), null, 2));
    });
  store.command('list').alias('ls').description('backup stores').addOption(outputOption())
    .action(async (_o: unknown, cmd: Command) => {
      const stores = await clientFor(cmd).listAll<BackupStore>('/backup-stores', 'stores');
      out(renderList(stores, [
        { header: 'NAME', value: (s) => s.name }, { header: 'PATH', value: (s) => s.path ?? '' },
        { header: 'ENCRYPTED', value: (s) => (s.encrypted ? 'yes' : 'no') }, { header: 'CREATED', value: (s) => s.createdAt },
      ], formatOf(cmd)));
    });
  store.command('info').alias('show').description('one store with its usage').argument('<name>', 'store name').addOption(outputOption())
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const s = await clientFor(cmd).json<BackupStore>('GET', `/backup-stores/${enc(name)}`);
      out(renderDetail(s, storeFields(s), formatOf(cmd)));
    });
  store.command('delete').alias('rm').description('forget a store (its directory and backups stay, to be attached again)').argument('<name>', 'store name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await clientFor(cmd).json('DELETE', `/backup-stores/${enc(name)}`);
      out(`Forgot backup store ${name} (its files stay)`);
    });
  withWaitOptions(
    store.command('sync').description("pull another nimbo daemon's store into this one (only missing backups and chunks; both need the same key)")
      .argument('<name>', 'local store', (v: string) => parseName(v, 'store name'))
      .requiredOption('--from <url>', "the other daemon's URL, e.g. https://backup-host:8443")
      .requiredOption('--remote-store <name>', 'the store there', (v: string) => parseName(v, 'store name'))
      .requiredOption('--remote-token-file <file>', 'a file holding an API token of the other daemon (admin or operator)')
      .option('--fingerprint <sha256>', "the other daemon's certificate fingerprint (https)"),
  ).action(async (name: string, o: WaitOptions & { from: string; remoteStore: string; remoteTokenFile: string; fingerprint?: string }, cmd: Command) => {
    const client = clientFor(cmd);
    const body = { url: o.from, store: o.remoteStore, token: secretFile(o.remoteTokenFile, 'token'), ...(o.fingerprint ? { fingerprint: o.fingerprint } : {}) };
    const op = await client.operation('POST', `/backup-stores/${enc(name)}/sync`, { body });
    await finishOperation(op, client, o, (f) => {
      const r = f.result as { backups: number; chunks: number; bytes: number; skipped: number } | undefined;
      return r ? `Pulled ${r.backups} backups (${r.chunks} chunks, ${humanBytes(r.bytes)}); ${r.skipped} were here already` : undefined;
    });
  });
}
