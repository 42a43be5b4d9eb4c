/** Where the daemon is and which token to use: flags, then env vars, then the local state dir. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
}

/** Explicit overrides, e.g. from `--url` / `--token`. */
export interface EndpointOverrides {
  url?: string;
  token?: string;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Resolve the daemon endpoint: overrides, then NIMBO_URL / NIMBO_TOKEN, then
 * `$NIMBO_STATE_DIR` (default /var/lib/nimbo) `daemon.json` ({"url": ...}) and `admin.token`.
 */
export function resolveEndpoint(overrides: EndpointOverrides = {}, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const stateDir = env.NIMBO_STATE_DIR || DEFAULT_STATE_DIR;
  let url = overrides.url || env.NIMBO_URL || '';
  if (!url) {
    const file = join(stateDir, 'daemon.json');
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { url?: unknown };
      if (typeof parsed.url === 'string' && parsed.url) url = parsed.url;
    } catch {
      // No daemon.json: the daemon is probably not running; the default URL gives a clear "cannot reach" later.
    }
  }
  url = (url || DEFAULT_URL).replace(/\/+$/, '');
  const token = overrides.token || env.NIMBO_TOKEN || undefined;
  if (token) return { url, token };
  const tokenFile = join(stateDir, 'admin.token');
  try {
    const t = readFileSync(tokenFile, 'utf8').trim();
    if (t) return { url, token: t };
    return { url, tokenProblem: `no API token: ${tokenFile} is empty (set NIMBO_TOKEN or pass --token)` };
  } catch (e) {
    const why = errCode(e) === 'EACCES' ? 'is not readable by you (run with sudo?)' : 'does not exist';
    return { url, tokenProblem: `no API token: ${tokenFile} ${why} (set NIMBO_TOKEN or pass --token)` };
  }
}
