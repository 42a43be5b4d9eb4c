/**
 * The remotes the CLI knows: `configDir()/config.json` = {"current", "remotes": {NAME: {"url", "fingerprint"}}},
 * mode 0600 in a 0700 directory. The local daemon (daemon.json in the state dir) is the implicit remote `local`.
 * A remote's fingerprint was shown to the user and accepted once (trust on first use); every later connection
 * must present that certificate or it is refused (tls-trust.ts).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { DetailedPeerCertificate } from 'node:tls';
import { configDir } from './credentials.js';
import { CliError, EXIT } from './errors.js';

/** The name of the implicit remote: the daemon whose daemon.json is in the state dir. */
export const LOCAL_REMOTE = 'local';

/** One remote: where it is and the SHA-256 fingerprint of the certificate it must present (https only). */
export interface RemoteEntry {
  url: string;
  fingerprint?: string;
}

/** The remotes file's content. */
export interface RemotesConfig {
  current?: string;
  remotes: Record<string, RemoteEntry>;
}

/** The remotes file. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

/** Refuse a remote name that could not also name a credentials file (same rule as credentials.ts). */
export function checkRemoteName(name: string): void {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
    throw new CliError(`remote name ${JSON.stringify(name)} is not valid: use 1-63 lowercase letters, digits and dashes, starting with a letter or digit`, { exitCode: EXIT.usage });
  }
}

/** The remotes file, or an empty config when there is none; a damaged file is an error, not a silent reset. */
export function readRemotes(env: NodeJS.ProcessEnv = process.env): RemotesConfig {
  const file = configFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { remotes: {} };
    throw new CliError(`${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const bad = (why: string) => new CliError(`${file} is not a valid remotes file (${why}); fix or remove it`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const o = raw as { current?: unknown; remotes?: unknown };
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw bad('not an object');
  if (o.current !== undefined && typeof o.current !== 'string') throw bad('"current" is not a string');
  const remotes: Record<string, RemoteEntry> = {};
  if (o.remotes !== undefined) {
    if (!o.remotes || typeof o.remotes !== 'object' || Array.isArray(o.remotes)) throw bad('"remotes" is not an object');
    for (const [name, v] of Object.entries(o.remotes as Record<string, unknown>)) {
      // Checked before use as a key: a name like __proto__ must not reach an object's prototype.
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw bad(`remote name ${JSON.stringify(name)} is not valid`);
      const r = v as { url?: unknown; fingerprint?: unknown };
      if (!r || typeof r.url !== 'string' || (r.fingerprint !== undefined && typeof r.fingerprint !== 'string')) throw bad(`remote ${JSON.stringify(name)} has no valid url`);
      remotes[name] = { url: r.url, ...(r.fingerprint ? { fingerprint: r.fingerprint } : {}) };
    }
  }
  return { ...(o.current ? { current: o.current } : {}), remotes };
}

/** Write the remotes file atomically, mode 0600 in a 0700 directory. */
export function writeRemotes(config: RemotesConfig, env: NodeJS.ProcessEnv = process.env): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = configFile(env);
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file); // readers never see half a file
  chmodSync(file, 0o600);
}

/** The name of the current remote (LOCAL_REMOTE when none was chosen). */
export function currentRemote(config: RemotesConfig): string {
  return config.current ?? LOCAL_REMOTE;
}

/** A configured remote by name, or a CliError that says how to see the names. */
export function remoteNamed(config: RemotesConfig, name: string): RemoteEntry {
  const r = Object.hasOwn(config.remotes, name) ? config.remotes[name] : undefined;
  if (!r) throw new CliError(`there is no remote named ${JSON.stringify(name)} (nimbo remote list shows them; nimbo remote add NAME URL adds one)`, { exitCode: EXIT.notFound });
  return r;
}

/** Whether a URL's host is a loopback address or localhost. */
export function isLoopbackUrl(url: URL): boolean {
  const h = url.hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * Check a remote's URL: http(s), no user, query or fragment; plain http only on loopback (nimbod serves
 * nothing else without TLS, and a token must not cross a network in clear). Returns it without trailing slashes.
 */
export function checkRemoteUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new CliError(`${JSON.stringify(text)} is not a URL: give nimbod's address, e.g. https://vps.example.com:8443`, { exitCode: EXIT.usage });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new CliError(`a remote URL is https://HOST:PORT, not ${u.protocol}`, { exitCode: EXIT.usage });
  if (u.username || u.password || u.search || u.hash) throw new CliError('a remote URL carries no user, password, query or fragment (tokens are stored apart, by nimbo login)', { exitCode: EXIT.usage });
  if (u.protocol === 'http:' && !isLoopbackUrl(u)) throw new CliError(`nimbod serves plain HTTP on loopback only: use https://${u.host}`, { exitCode: EXIT.usage });
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
}

/** What a server presented: its certificate's subject and fingerprint, and its CA's when it sent one. */
export interface PresentedCertificate {
  subject: string;
  fingerprint: string;
  validTo: string;
  issuer?: { subject: string; fingerprint: string };
}

/** The subject of a peer certificate as "CN=..., O=..." (the parts it has). */
function subjectOf(c: DetailedPeerCertificate): string {
  return Object.entries(c.subject ?? {}).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(', ');
}

/**
 * Look at the certificate an https server presents, sending nothing but a TLS hello. Nothing is trusted here:
 * the caller shows the fingerprint to the user, who decides.
 */
export async function peekCertificate(url: string, timeoutMs = 15_000): Promise<PresentedCertificate> {
  // Loaded here only: every command resolves its endpoint through this module, and node:tls costs startup time.
  const { connect } = await import('node:tls');
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs });
    sock.once('secureConnect', () => {
      const cert = sock.getPeerCertificate(true);
      sock.destroy();
      if (!cert?.raw) return reject(new CliError(`${url} sent no certificate`));
      const issuer = cert.issuerCertificate && cert.issuerCertificate !== cert && cert.issuerCertificate.raw && cert.issuerCertificate.fingerprint256 !== cert.fingerprint256 ? cert.issuerCertificate : undefined;
      resolve({
        subject: subjectOf(cert),
        fingerprint: cert.fingerprint256,
        validTo: cert.valid_to,
        ...(issuer ? { issuer: { subject: subjectOf(issuer), fingerprint: issuer.fingerprint256 } } : {}),
      });
    });
    sock.once('timeout', () => sock.destroy(Object.assign(new Error(`TLS handshake with ${host}:${port} timed out`), { code: 'ETIMEDOUT' })));
    sock.once('error', (e) => reject(new CliError(`cannot reach nimbod at ${url} (${(e as Error).message})`, { kind: 'unreachable', cause: e })));
  });
}
