/** Where the daemon is, how to trust it and which token to use: flags, then env vars, then the remotes, then the local state dir. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadToken } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { LOCAL_REMOTE, checkRemoteName, currentRemote, isLoopbackUrl, readRemotes, remoteNamed, type RemotesConfig } from './remotes.js';
import type { TlsTrust } from './tls-trust.js';

/** The default state dir of a local daemon. */
export const DEFAULT_STATE_DIR = '/var/lib/nimbo';
/** The URL used when nothing says otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:8443';

/** A resolved endpoint; `token` is absent when none was found (`tokenProblem` says why). */
export interface Endpoint {
  url: string;
  /** The remote whose pin and credentials apply (`local` for the local daemon); absent for a bare URL. */
  remote?: string;
  token?: string;
  /** One line explaining why no token is available, shown when a call needs one. */
  tokenProblem?: string;
  /** How to trust an https daemon (absent: the system's CAs). */
  tls?: TlsTrust;
}

/** Explicit overrides, e.g. from `--url` / `--remote` / `--token-file`. */
export interface EndpointOverrides {
  url?: string;
  /** --remote: a configured remote's name (or `local`) instead of the current one. */
  remote?: string;
  /** --token-file: a file holding the token (tokens never go on a command line). */
  tokenFile?: string;
  /** --tls-fingerprint: SHA-256 fingerprint to pin. */
  tlsFingerprint?: string;
  /** --tls-ca: PEM file of CAs to trust. */
  tlsCa?: string;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Where the URL comes from: a named remote (with its pin), or a bare URL. */
function chooseTarget(o: EndpointOverrides, env: NodeJS.ProcessEnv, local: { url?: string; fingerprint?: string }): { url: string; remote?: string; fingerprint?: string } {
  if (o.url && o.remote) throw new CliError('--url and --remote both say where nimbod is: pass one of them', { exitCode: EXIT.usage });
  const localUrl = local.url || DEFAULT_URL;
  const named = (name: string, config?: RemotesConfig) => {
    if (name === LOCAL_REMOTE) return { url: localUrl, remote: LOCAL_REMOTE, fingerprint: local.fingerprint };
    if (o.remote) checkRemoteName(name);
    const r = remoteNamed(config ?? readRemotes(env), name);
    return { url: r.url.replace(/\/+$/, ''), remote: name, fingerprint: r.fingerprint };
  };
  if (o.remote) return named(o.remote);
  const bare = (o.url || env.NIMBO_URL || '').replace(/\/+$/, '');
  if (!bare) {
    const config = readRemotes(env);
    return named(currentRemote(config), config);
  }
  // A bare URL that is a known remote's (or the local daemon's) gets that remote's pin and token.
  if (bare === localUrl) return { url: bare, remote: LOCAL_REMOTE, fingerprint: local.fingerprint };
  const config = readRemotes(env);
  const match = Object.entries(config.remotes).find(([, r]) => r.url.replace(/\/+$/, '') === bare);
  return match ? { url: bare, remote: match[0], fingerprint: match[1].fingerprint } : { url: bare };
}

/** The token in an explicit --token-file; any problem with it is an error (it was asked for). */
function readTokenFile(file: string): string {
  let t: string;
  try {
    t = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new CliError(`--token-file ${file} cannot be read (${errCode(e) ?? (e as Error).message})`, { exitCode: EXIT.auth });
  }
  if (!t) throw new CliError(`--token-file ${file} is empty`, { exitCode: EXIT.auth });
  return t;
}

const HOW = 'set NIMBO_TOKEN or pass --token-file FILE';

/**
 * Resolve the daemon endpoint. Where: --url or --remote, then NIMBO_URL, then the current remote of
 * config.json, else the local daemon (`$NIMBO_STATE_DIR`, default /var/lib/nimbo, daemon.json {"url", "fingerprint"}).
 * Trust: --tls-fingerprint / --tls-ca, then NIMBO_TLS_FINGERPRINT / NIMBO_TLS_CA, then the remote's pin.
 * Token: --token-file, then NIMBO_TOKEN, then the remote's credentials file, then (local daemon or loopback
 * URL only) admin.token. A remote's token is never sent to another URL.
 */
export function resolveEndpoint(overrides: EndpointOverrides = {}, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const stateDir = env.NIMBO_STATE_DIR || DEFAULT_STATE_DIR;
  const local = readDaemonJson(join(stateDir, 'daemon.json'));
  // No daemon.json: the daemon is probably not running; the default URL gives a clear "cannot reach" later.
  const target = chooseTarget(overrides, env, local);
  const { url } = target;
  const fingerprint = overrides.tlsFingerprint || env.NIMBO_TLS_FINGERPRINT || target.fingerprint;
  const caFile = overrides.tlsCa || env.NIMBO_TLS_CA || undefined;
  const tls = fingerprint || caFile ? { ...(fingerprint ? { fingerprint } : {}), ...(caFile ? { caFile } : {}) } : undefined;
  const base = { url, ...(target.remote ? { remote: target.remote } : {}), ...(tls ? { tls } : {}) };
  const token = (overrides.tokenFile ? readTokenFile(overrides.tokenFile) : undefined) || env.NIMBO_TOKEN || (target.remote ? loadToken(target.remote, env) : undefined);
  if (token) return { ...base, token };
  let isLoopback = false;
  try {
    isLoopback = isLoopbackUrl(new URL(url));
  } catch {
    // not a URL: the client says so when it is used
  }
  if (target.remote && target.remote !== LOCAL_REMOTE) {
    return { ...base, tokenProblem: `no API token for remote ${target.remote}: log in with nimbo --remote ${target.remote} login, or ${HOW}` };
  }
  if (target.remote !== LOCAL_REMOTE && !isLoopback) return { ...base, tokenProblem: `no API token for ${url}: ${HOW}` };
  const tokenFile = join(stateDir, 'admin.token');
  try {
    const t = readFileSync(tokenFile, 'utf8').trim();
    if (t) return { ...base, token: t };
    return { ...base, tokenProblem: `no API token: ${tokenFile} is empty (${HOW})` };
  } catch (e) {
    const why = errCode(e) === 'EACCES' ? 'is not readable by you (run with sudo?)' : 'does not exist';
    return { ...base, tokenProblem: `no API token: ${tokenFile} ${why} (${HOW})` };
  }
}

/** The URL (without trailing slash) and certificate fingerprint a local daemon recorded, if any. */
function readDaemonJson(file: string): { url?: string; fingerprint?: string } {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown; fingerprint?: unknown };
    const url = typeof parsed.url === 'string' && parsed.url ? parsed.url.replace(/\/+$/, '') : undefined;
    return { url, fingerprint: typeof parsed.fingerprint === 'string' && parsed.fingerprint ? parsed.fingerprint : undefined };
  } catch {
    return {};
  }
}
