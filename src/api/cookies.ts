// The session cookie: read from the Cookie header, written as HttpOnly, SameSite=Strict, Path=/api, and
// Secure on HTTPS. Its value is a random id; the store keeps only its SHA-256.

/** The name of nimbo's session cookie. */
export const SESSION_COOKIE = 'nimbo_session';

/** The value of cookie `name` in a Cookie header (undefined when absent or given twice: ambiguous). */
export function readCookie(header: string | undefined, name = SESSION_COOKIE): string | undefined {
  if (!header) return undefined;
  const hits = header.split(';').map((p) => p.trim()).filter((p) => p.startsWith(`${name}=`)).map((p) => p.slice(name.length + 1));
  return hits.length === 1 && /^[A-Za-z0-9_-]{1,200}$/.test(hits[0]!) ? hits[0] : undefined;
}

/** Whether the Cookie header names the session cookie at all (well-formed or not). */
export function hasCookie(header: string | undefined, name = SESSION_COOKIE): boolean {
  return !!header && header.split(';').some((p) => p.trim().startsWith(`${name}=`));
}

/** A Set-Cookie value that sets the session cookie for `maxAgeS` seconds. */
export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/api; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}${secure ? '; Secure' : ''}`;
}

/** A Set-Cookie value that removes the session cookie. */
export function clearedCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/** The name of the panel's marker cookie: readable by scripts, it says only "a login happened here" (no secret). */
export const PANEL_MARK_COOKIE = 'nimbo_login';

/**
 * Set-Cookie values of the panel's marker (Path=/, not HttpOnly): the panel asks whoami only when it is there, so
 * a first visit does not start with a refused request. It grants nothing; the HttpOnly session cookie does.
 */
export function panelMarkCookie(maxAgeS: number, secure: boolean): string {
  return `${PANEL_MARK_COOKIE}=1; Path=/; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeS))}${secure ? '; Secure' : ''}`;
}
