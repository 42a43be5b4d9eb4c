/**
 * How the CLI trusts nimbod's certificate: a pinned SHA-256 fingerprint, a CA file, or else the system's CAs.
 * Verification is never switched off: a pin is checked on every connection, before a request is sent.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import { CliError } from './errors.js';

/** What the user said to trust (flags, env vars or daemon.json). */
export interface TlsTrust {
  /** SHA-256 fingerprint of the daemon's certificate, in any usual spelling. */
  fingerprint?: string;
  /** A PEM file of CA certificates (or the daemon's self-signed certificate itself). */
  caFile?: string;
}

/** Normalize a SHA-256 fingerprint ("SHA256:ab:cd...", "abcd...", "AB CD ...") to "AB:CD:..." or throw one sentence. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.trim().replace(/^sha-?256[:= ]?/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new CliError(`TLS fingerprint ${JSON.stringify(fp)} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  return hex.match(/../g)!.join(':');
}

/** PEM text of a peer certificate's DER bytes. */
function pem(raw: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${raw.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The last certificate of the chain the server sent (the self-signed one when it is alone). */
function anchorOf(cert: DetailedPeerCertificate): DetailedPeerCertificate {
  let c = cert;
  for (let i = 0; i < 10 && c.issuerCertificate && c.issuerCertificate !== c && c.issuerCertificate.raw; i++) c = c.issuerCertificate;
  return c;
}

/** Anchors already fetched in this process, by host:port and fingerprint. */
const anchors = new Map<string, string>();

/**
 * Look at the server's certificate once, sending nothing but a TLS hello, and keep its chain's anchor
 * if the leaf has the pinned fingerprint. Real connections then verify against that anchor and the pin.
 */
function fetchAnchor(host: string, port: number, fingerprint: string): Promise<string> {
  const key = `${host}:${port}/${fingerprint}`;
  const known = anchors.get(key);
  if (known) return Promise.resolve(known);
  return new Promise((resolve, reject) => {
    // No trust decision is made on this socket: it is closed right after the handshake, and only compared.
    const sock = connect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: 15_000 });
    sock.once('secureConnect', () => {
      const cert = sock.getPeerCertificate(true);
      sock.destroy();
      if (!cert?.raw) return reject(new CliError(`nimbod at ${host}:${port} sent no certificate`));
      if (cert.fingerprint256 !== fingerprint) return reject(pinMismatch(host, port, cert, fingerprint));
      const anchor = pem(anchorOf(cert).raw);
      anchors.set(key, anchor);
      resolve(anchor);
    });
    sock.once('timeout', () => sock.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })));
    sock.once('error', reject);
  });
}

function pinMismatch(host: string, port: number, cert: PeerCertificate, pinned: string): CliError {
  return new CliError(
    `refusing to talk to ${host}:${port}: its certificate's SHA-256 fingerprint is ${cert.fingerprint256}, not the pinned ${pinned} ` +
      '(if the daemon really got a new certificate, pin the fingerprint it prints at start)',
    { code: 'TlsPinMismatch' },
  );
}

/** TLS options for connections to `url`: none for http, the pin or the CA file for https. */
export async function tlsOptionsFor(url: string, trust: TlsTrust): Promise<ConnectionOptions> {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'wss:') return {};
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const servername = isIP(host) ? undefined : host;
  if (trust.fingerprint) {
    const fp = normalizeFingerprint(trust.fingerprint);
    const port = Number(u.port || 443);
    const ca = await fetchAnchor(host, port, fp);
    // The pin replaces the name check (a self-signed certificate may not name the address used).
    const checkServerIdentity = (_host: string, cert: PeerCertificate) => (cert.fingerprint256 === fp ? undefined : pinMismatch(host, port, cert, fp));
    return { ca, checkServerIdentity, servername, rejectUnauthorized: true };
  }
  if (trust.caFile) {
    let ca: string;
    try {
      ca = readFileSync(trust.caFile, 'utf8');
    } catch (e) {
      throw new CliError(`TLS CA file ${trust.caFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return { ca, servername, rejectUnauthorized: true };
  }
  return { servername, rejectUnauthorized: true };
}

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

/** One sentence for a TLS failure talking to `baseUrl`, or undefined when `e` is not one. */
export function describeTlsError(e: unknown, baseUrl: string): string | undefined {
  let c: unknown = e;
  for (let i = 0; i < 4 && c; i++) {
    if (c instanceof CliError && c.code === 'TlsPinMismatch') return c.message;
    const code = (c as { code?: unknown }).code;
    const msg = (c as Error).message ?? '';
    if (typeof code === 'string') {
      if (UNTRUSTED.has(code)) {
        return `nimbod at ${baseUrl} presented a certificate this client does not trust (${msg}): pin it with --tls-fingerprint (or NIMBO_TLS_FINGERPRINT) set to the SHA-256 fingerprint nimbod printed at start, or pass --tls-ca FILE`;
      }
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate of nimbod at ${baseUrl} does not name this address (${msg}): use a name it lists, or pin it with --tls-fingerprint`;
      if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the certificate of nimbod at ${baseUrl} is not valid now (${msg})`;
      if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) return `TLS with nimbod at ${baseUrl} failed (${msg}); if it serves plain HTTP, use an http:// URL`;
    }
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}
