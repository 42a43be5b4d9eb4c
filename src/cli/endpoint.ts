/** Where the daemon is, how to trust it and which token to use: flags, then env vars, then the local state dir. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TlsTrust } from './tls-trust.js';

/** The default state dir of a local daemon. */
export const DEFAULT_STATE_DIR = '/var/lib/nimbo';
/** The URL used when nothing says otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:8443';

/** A resolved endpoint; `token` is absent when none was found (`tokenProblem` says why). */
export interface Endpoint {
  url: string;
  token?: string;
  /** One line explaining why no token is available, shown when a call needs one. */
  tokenProblem?: string;
  /** How to trust an https daemon (absent: the system's CAs). */
  tls?: TlsTrust;
}

/** Explicit overrides, e.g. from `--url` / `--token`. */
export interface EndpointOverrides {
  url?: string;
  token?: string;
  /** --tls-fingerprint: SHA-256 fingerprint to pin. */
  tlsFingerprint?: string;
  /** --tls-ca: PEM file of CAs to trust. */
  tlsCa?: string;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Resolve the daemon endpoint: overrides, then NIMBO_URL / NIMBO_TOKEN / NIMBO_TLS_FINGERPRINT / NIMBO_TLS_CA,
 * then `$NIMBO_STATE_DIR` (default /var/lib/nimbo) `daemon.json` ({"url", "fingerprint"}) and `admin.token`.
 * daemon.json's fingerprint is pinned only for daemon.json's own URL.
 */
export function resolveEndpoint(overrides: EndpointOverrides = {}, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const stateDir = env.NIMBO_STATE_DIR || DEFAULT_STATE_DIR;
  const local = readDaemonJson(join(stateDir, 'daemon.json'));
  // No daemon.json: the daemon is probably not running; the default URL gives a clear "cannot reach" later.
  const url = (overrides.url || env.NIMBO_URL || local.url || DEFAULT_URL).replace(/\/+$/, '');
  const fingerprint = overrides.tlsFingerprint || env.NIMBO_TLS_FINGERPRINT || (url === local.url ? local.fingerprint : undefined);
  const caFile = overrides.tlsCa || env.NIMBO_TLS_CA || undefined;
  const tls = fingerprint || caFile ? { ...(fingerprint ? { fingerprint } : {}), ...(caFile ? { caFile } : {}) } : undefined;
  const base = { url, ...(tls ? { tls } : {}) };
  const token = overrides.token || env.NIMBO_TOKEN || undefined;
  if (token) return { ...base, token };
  const tokenFile = join(stateDir, 'admin.token');
  try {
    const t = readFileSync(tokenFile, 'utf8').trim();
    if (t) return { ...base, token: t };
    return { ...base, tokenProblem: `no API token: ${tokenFile} is empty (set NIMBO_TOKEN or pass --token)` };
  } catch (e) {
    const why = errCode(e) === 'EACCES' ? 'is not readable by you (run with sudo?)' : 'does not exist';
    return { ...base, tokenProblem: `no API token: ${tokenFile} ${why} (set NIMBO_TOKEN or pass --token)` };
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
