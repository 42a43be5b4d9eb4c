/** `nimbo remote add|list|switch|remove|show`: the daemons this CLI talks to, each pinned to the certificate the user accepted. */
import type { Command } from 'commander';
import { ApiClient } from '../client.js';
import { loadToken, removeToken, tokenFile } from '../credentials.js';
import { resolveEndpoint } from '../endpoint.js';
import { CliError, EXIT } from '../errors.js';
import { outputOption, renderDetail, renderList, type OutputFormat } from '../output.js';
import {
  LOCAL_REMOTE, checkRemoteName, checkRemoteUrl, configFile, currentRemote, peekCertificate, readRemotes, remoteNamed, writeRemotes,
  type PresentedCertificate,
} from '../remotes.js';
import { normalizeFingerprint } from '../tls-trust.js';
import { endpointFor, formatOf, out, outResult, writeOutputOption } from './common.js';

/** How `remote add` talks to its user: a question on the terminal (absent without one), and stderr. */
export interface AddIo {
  ask?: (question: string) => Promise<string>;
  write: (text: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The lines that show a certificate to the user before they trust it. */
export function describeCertificate(url: string, c: PresentedCertificate): string {
  const lines = [
    `nimbod at ${url} presents this certificate:`,
    `  subject:             ${c.subject || '(none)'}`,
    `  SHA-256 fingerprint: ${c.fingerprint}`,
    `  valid until:         ${c.validTo}`,
  ];
  if (c.issuer) lines.push(`  issued by:           ${c.issuer.subject || '(none)'}`, `  CA SHA-256:          ${c.issuer.fingerprint}`);
  lines.push("Compare it with the fingerprint nimbod printed at start (or: openssl x509 -noout -fingerprint -sha256 -in STATE_DIR/tls/server.crt on the server).");
  return lines.join('\n') + '\n';
}

/**
 * Add a remote: look at its certificate, have the user accept its fingerprint (prompt, or --accept-fingerprint),
 * check that a nimbod answers behind that pin, then save it. Nothing is saved when any step fails.
 */
export async function addRemote(name: string, urlText: string, accept: string | undefined, io: AddIo): Promise<{ url: string; fingerprint?: string }> {
  checkRemoteName(name);
  if (name === LOCAL_REMOTE) throw new CliError(`${LOCAL_REMOTE} is the daemon of this host (its daemon.json); pick another name`, { exitCode: EXIT.usage });
  const config = readRemotes(io.env);
  if (Object.hasOwn(config.remotes, name)) throw new CliError(`remote ${name} exists already (${config.remotes[name]!.url}): remove it first to change it`, { exitCode: EXIT.conflict });
  const url = checkRemoteUrl(urlText);
  let fingerprint: string | undefined;
  if (url.startsWith('https:')) {
    const wanted = accept === undefined ? undefined : normalizeFingerprint(accept);
    const presented = await peekCertificate(url);
    io.write(describeCertificate(url, presented));
    if (wanted !== undefined) {
      if (wanted !== presented.fingerprint) {
        throw new CliError(`the certificate's SHA-256 fingerprint is ${presented.fingerprint}, not the --accept-fingerprint ${wanted}; remote ${name} was not added`, { code: 'TlsPinMismatch' });
      }
    } else {
      if (!io.ask) {
        throw new CliError('remote add asks before it trusts a certificate, and stdin is not a terminal: pass --accept-fingerprint with the fingerprint above once you have checked it', { exitCode: EXIT.usage });
      }
      const answer = (await io.ask(`Trust this certificate and pin its fingerprint for remote ${name}? [y/N] `)).trim().toLowerCase();
      if (answer !== 'y' && answer !== 'yes') throw new CliError(`remote ${name} was not added (the certificate was not trusted)`);
    }
    fingerprint = presented.fingerprint;
  } else if (accept !== undefined) {
    throw new CliError('--accept-fingerprint is for https remotes; an http:// URL has no certificate', { exitCode: EXIT.usage });
  }
  // Behind the pin, something must answer as nimbod does (no token is sent).
  const client = new ApiClient(url, undefined, { tls: fingerprint ? { fingerprint } : undefined, timeoutMs: 15_000 });
  try {
    await client.health();
  } finally {
    client.close();
  }
  const fresh = readRemotes(io.env); // re-read: another nimbo may have changed the file meanwhile
  if (Object.hasOwn(fresh.remotes, name)) throw new CliError(`remote ${name} exists already: remove it first to change it`, { exitCode: EXIT.conflict });
  fresh.remotes[name] = { url, ...(fingerprint ? { fingerprint } : {}) };
  writeRemotes(fresh, io.env);
  return { url, ...(fingerprint ? { fingerprint } : {}) };
}

/** One row of `remote list`. */
interface RemoteRow {
  name: string;
  url: string;
  fingerprint?: string;
  current: boolean;
  loggedIn: boolean;
}

/** Every remote, `local` first, with the current one marked. */
function remoteRows(env: NodeJS.ProcessEnv = process.env): RemoteRow[] {
  const config = readRemotes(env);
  const current = currentRemote(config);
  const local = resolveEndpoint({ remote: LOCAL_REMOTE }, { ...env, NIMBO_TOKEN: '', NIMBO_TLS_FINGERPRINT: '', NIMBO_TLS_CA: '' });
  const rows: RemoteRow[] = [{ name: LOCAL_REMOTE, url: local.url, ...(local.tls?.fingerprint ? { fingerprint: local.tls.fingerprint } : {}), current: current === LOCAL_REMOTE, loggedIn: !!local.token }];
  for (const [name, r] of Object.entries(config.remotes).sort(([a], [b]) => a.localeCompare(b))) {
    rows.push({ name, url: r.url, ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}), current: current === name, loggedIn: !!loadToken(name, env) });
  }
  return rows;
}

/** Register `nimbo remote ...`. */
export function registerRemoteCommands(program: Command): void {
  const remote = program.command('remote').description('the nimbod daemons this CLI talks to (remotes), each pinned to its certificate');
  remote
    .command('add')
    .description('add a remote: show its certificate, ask to trust it, and pin its SHA-256 fingerprint')
    .argument('<name>', 'a name for it (lowercase letters, digits, dashes)')
    .argument('<url>', "nimbod's address, e.g. https://vps.example.com:8443")
    .option('--accept-fingerprint <sha256>', 'trust the certificate without asking if it has this SHA-256 fingerprint (for scripts; a fingerprint is not a secret)')
    .addOption(writeOutputOption('the remote saved ({name, url, fingerprint})'))
    .action(async (name: string, url: string, o: { acceptFingerprint?: string; output?: OutputFormat }) => {
      const io: AddIo = { write: (t) => process.stderr.write(t) };
      if (process.stdin.isTTY && o.acceptFingerprint === undefined) io.ask = ask;
      const r = await addRemote(name, url, o.acceptFingerprint, io);
      outResult(o.output, { name, ...r }, `added remote ${name} (${r.url}${r.fingerprint ? `, pinned ${r.fingerprint}` : ''}); use it with nimbo remote switch ${name} or nimbo --remote ${name}, and log in with nimbo --remote ${name} login`);
    });
  remote
    .command('list')
    .alias('ls')
    .description('list the remotes; * marks the current one')
    .addOption(outputOption())
    .action((_o: unknown, cmd: Command) => {
      const rows = remoteRows();
      out(renderList(rows, [
        { header: '', value: (r) => (r.current ? '*' : '') },
        { header: 'NAME', value: (r) => r.name },
        { header: 'URL', value: (r) => r.url },
        { header: 'FINGERPRINT', value: (r) => (r.fingerprint ? `${r.fingerprint.slice(0, 23)}...` : '-') },
        { header: 'TOKEN', value: (r) => (r.loggedIn ? 'yes' : 'no') },
      ], formatOf(cmd)));
    });
  remote
    .command('switch')
    .description('make a remote the current one (local: the daemon of this host)')
    .argument('<name>')
    .addOption(writeOutputOption('{current}'))
    .action((name: string, o: { output?: OutputFormat }) => {
      const config = readRemotes();
      if (name !== LOCAL_REMOTE) remoteNamed(config, name);
      writeRemotes({ ...(name === LOCAL_REMOTE ? {} : { current: name }), remotes: config.remotes });
      outResult(o.output, { current: name }, `current remote: ${name}`);
    });
  remote
    .command('remove')
    .alias('rm')
    .description('forget a remote, its pin and its stored token')
    .argument('<name>')
    .addOption(writeOutputOption('{removed, current}'))
    .action((name: string, o: { output?: OutputFormat }) => {
      if (name === LOCAL_REMOTE) throw new CliError(`${LOCAL_REMOTE} is implicit and cannot be removed`, { exitCode: EXIT.usage });
      const config = readRemotes();
      remoteNamed(config, name);
      delete config.remotes[name];
      const wasCurrent = config.current === name;
      writeRemotes({ ...(config.current && !wasCurrent ? { current: config.current } : {}), remotes: config.remotes });
      removeToken(name);
      outResult(o.output, { removed: name, current: config.current && !wasCurrent ? config.current : LOCAL_REMOTE }, `removed remote ${name}${wasCurrent ? `; the current remote is ${LOCAL_REMOTE} again` : ''}`);
    });
  remote
    .command('show')
    .description('show the remote commands use now (after --remote, --url and NIMBO_URL), its pin and where its token comes from')
    .addOption(outputOption())
    .action((_o: unknown, cmd: Command) => {
      const ep = endpointFor(cmd);
      const env = process.env;
      const tokenFrom = cmd.optsWithGlobals<{ tokenFile?: string }>().tokenFile ? '--token-file'
        : env.NIMBO_TOKEN ? 'NIMBO_TOKEN'
          : ep.remote && loadToken(ep.remote) ? tokenFile(ep.remote)
            : ep.token ? 'admin.token in the state dir' : `none (${ep.tokenProblem ?? 'no token'})`;
      const data = { remote: ep.remote ?? null, url: ep.url, fingerprint: ep.tls?.fingerprint ?? null, caFile: ep.tls?.caFile ?? null, token: tokenFrom, config: configFile() };
      const fmt: OutputFormat = formatOf(cmd);
      out(renderDetail(data, [
        ['Remote', ep.remote ?? '(none: a URL from --url or NIMBO_URL)'],
        ['URL', ep.url],
        ['Pinned fingerprint', ep.tls?.fingerprint ?? '-'],
        ...(ep.tls?.caFile ? [['CA file', ep.tls.caFile] as [string, string]] : []),
        ['Token from', tokenFrom],
        ['Config', configFile()],
      ], fmt));
    });
}

/** Ask one question on the terminal. */
async function ask(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}
