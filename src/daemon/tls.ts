/** The daemon's TLS material: given files, checked before use, or a CA and a server certificate made once in the state dir. */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { HostExec } from '../host/exec.js';
import type { TlsPlan } from '../core/config.js';

/** A certificate chain and key nimbod serves, with the leaf's SHA-256 fingerprint (AB:CD:... form). */
export interface TlsMaterial {
  cert: string;
  key: string;
  fingerprint: string;
  /** Where they came from: the operator's files or the CA and certificate generated in the state dir. */
  source: 'files' | 'generated';
  certFile: string;
  /** The generated CA's certificate file and its SHA-256 fingerprint (absent for the operator's files). */
  caFile?: string;
  caFingerprint?: string;
}

/** Days a generated CA or certificate is valid; clients pin it, so it is not rotated behind their backs. */
const GENERATED_DAYS = 3650;

function readOrRefuse(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw invalid(`${flag} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Parse and cross-check a PEM certificate (chain) and key; every problem is one sentence naming the flag. */
export function checkPair(cert: string, key: string, names: { cert: string; key: string }, now = new Date()): { x509: X509Certificate; keyObject: KeyObject } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw invalid(`${names.cert} is not a PEM certificate`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE' ? 'is encrypted (nimbod needs an unencrypted key)' : 'is not a PEM private key';
    throw invalid(`${names.key} ${why}`);
  }
  if (!x509.checkPrivateKey(keyObject)) throw invalid(`${names.key} does not match the certificate in ${names.cert}`);
  if (new Date(x509.validTo) < now) throw invalid(`the certificate in ${names.cert} expired on ${x509.validTo}`);
  return { x509, keyObject };
}

/** Load --tls-cert/--tls-key, refusing files that do not load, do not match or have expired. */
export function loadTlsFiles(certFile: string, keyFile: string, log?: Logger): TlsMaterial {
  const cert = readOrRefuse(certFile, '--tls-cert');
  const key = readOrRefuse(keyFile, '--tls-key');
  const { x509 } = checkPair(cert, key, { cert: `--tls-cert ${certFile}`, key: `--tls-key ${keyFile}` });
  if ((statSync(keyFile).mode & 0o077) !== 0) log?.warn({ keyFile }, 'the TLS key is readable by other users; chmod 600 it');
  return { cert, key, fingerprint: x509.fingerprint256, source: 'files', certFile };
}

/** The subjectAltNames of a generated certificate: the listen address, this host's names and loopback. */
export function subjectAltNames(listenHost: string, host = hostname(), ifaces = networkInterfaces()): string[] {
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const dns = new Set<string>(['localhost']);
  if (/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host)) dns.add(host.toLowerCase());
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
  if (wildcard) {
    // Every address it answers on now; clients that pin the fingerprint do not need this, CA-file users do.
    for (const list of Object.values(ifaces)) for (const a of list ?? []) if (!a.address.startsWith('fe80')) ips.add(a.address);
  } else if (isIP(listenHost)) ips.add(listenHost);
  else dns.add(listenHost.toLowerCase());
  return [...[...dns].map((d) => `DNS:${d}`), ...[...ips].map((i) => `IP:${i}`)];
}

/** The openssl argv of a new P-256 CA (key 0600 is prepared by the caller; argv only: nothing reaches a shell). */
export function caArgv(certFile: string, keyFile: string, host = hostname()): string[] {
  return [
    'openssl', 'req', '-x509', ...EC_KEY, '-days', String(GENERATED_DAYS), '-subj', `/CN=${commonName('nimbo CA', host)}`,
    '-keyout', keyFile, '-out', certFile,
    // pathlen:0: the CA signs server certificates only, never another CA.
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ];
}

/** The openssl argv of a new P-256 server certificate signed by the CA in caCert/caKey, naming `sans`. */
export function serverArgv(certFile: string, keyFile: string, caCert: string, caKey: string, sans: string[], host = hostname()): string[] {
  return [
    'openssl', 'req', '-x509', '-CA', caCert, '-CAkey', caKey, ...EC_KEY, '-days', String(GENERATED_DAYS),
    '-subj', `/CN=${commonName('nimbod', host)}`, '-keyout', keyFile, '-out', certFile,
    // CA:FALSE: a client that trusts this file as a CA must not thereby trust anything its key signs.
    '-addext', `subjectAltName=${sans.join(',')}`, '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth',
  ];
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A subject CN from a fixed label and the host name, reduced to characters that cannot start a flag or an RDN. */
function commonName(label: string, host: string): string {
  return `${label}@${host.replace(/[^A-Za-z0-9.-]/g, '-')}`.slice(0, 64);
}

/** Files of the generated material in the state dir's tls/ directory. */
export function generatedFiles(dir: string): { caCert: string; caKey: string; cert: string; key: string } {
  return { caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** A pair in `certFile`/`keyFile` that loads and matches, or undefined (with the reason logged). */
function loadPair(certFile: string, keyFile: string, log?: Logger): { cert: string; key: string; x509: X509Certificate } | undefined {
  if (!existsSync(certFile) || !existsSync(keyFile)) return undefined;
  try {
    chmodSync(keyFile, 0o600);
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    return { cert, key, x509: checkPair(cert, key, { cert: certFile, key: keyFile }).x509 };
  } catch (e) {
    log?.warn({ certFile, err: (e as Error).message }, 'a generated TLS pair cannot be used; making a new one');
    return undefined;
  }
}

/** Run `argv` (which writes tmp files), check the pair and move it into place: key first, then certificate. */
async function makePair(exec: HostExec, certFile: string, keyFile: string, argv: (cert: string, key: string) => string[]): Promise<{ cert: string; key: string; x509: X509Certificate }> {
  const tmpCert = `${certFile}.tmp`;
  const tmpKey = `${keyFile}.tmp`;
  rmSync(tmpKey, { force: true });
  closeSync(openSync(tmpKey, 'wx', 0o600)); // openssl truncates it and keeps the mode: the key is never world-readable
  try {
    await exec.run(argv(tmpCert, tmpKey), { timeoutMs: 60_000 });
    chmodSync(tmpKey, 0o600);
    const cert = readFileSync(tmpCert, 'utf8');
    const key = readFileSync(tmpKey, 'utf8');
    const { x509 } = checkPair(cert, key, { cert: tmpCert, key: tmpKey });
    renameSync(tmpKey, keyFile); // a crash between the renames leaves a mismatch, which is remade
    renameSync(tmpCert, certFile);
    return { cert, key, x509 };
  } finally {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
  }
}

/** Whether a generated server certificate can stay: signed by `ca` and naming a specific listen host. */
function serverFits(x509: X509Certificate, ca: X509Certificate, listenHost: string): boolean {
  if (!x509.checkIssued(ca) || !x509.verify(ca.publicKey)) return false;
  if (listenHost === '0.0.0.0' || listenHost === '::') return true; // interface addresses come and go; the pin does not depend on them
  return isIP(listenHost) ? !!x509.checkIP(listenHost) : !!x509.checkHost(listenHost);
}

/**
 * The state dir's CA and server certificate: reused while they load, match and fit, otherwise made with
 * openssl (dir 0700, keys 0600). The server certificate is served with the CA after it, so a client can
 * trust either the CA (ca.crt) or the pinned server certificate.
 */
export async function ensureGenerated(exec: HostExec, dir: string, listenHost: string, log?: Logger): Promise<TlsMaterial & { generated: boolean }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const f = generatedFiles(dir);
  let generated = false;
  let ca = loadPair(f.caCert, f.caKey, log);
  if (ca && !ca.x509.ca) ca = undefined;
  if (!ca) {
    ca = await makePair(exec, f.caCert, f.caKey, (c, k) => caArgv(c, k));
    generated = true;
  }
  let server = generated ? undefined : loadPair(f.cert, f.key, log);
  if (server && !serverFits(server.x509, ca.x509, listenHost)) {
    log?.warn({ certFile: f.cert, listenHost }, 'the server certificate is not signed by the CA or does not name the listen address; making a new one (clients must pin the new fingerprint)');
    server = undefined;
  }
  if (!server) {
    const sans = subjectAltNames(listenHost);
    server = await makePair(exec, f.cert, f.key, (c, k) => serverArgv(c, k, f.caCert, f.caKey, sans));
    generated = true;
  }
  const chain = `${server.cert.trimEnd()}\n${ca.cert.trimEnd()}\n`;
  return {
    cert: chain, key: server.key, fingerprint: server.x509.fingerprint256, source: 'generated', certFile: f.cert,
    caFile: f.caCert, caFingerprint: ca.x509.fingerprint256, generated,
  };
}

/** The TLS material a plan calls for, or undefined for plain HTTP. */
export async function prepareTls(plan: TlsPlan | undefined, exec: HostExec, dir: string, listenHost: string, log?: Logger): Promise<TlsMaterial | undefined> {
  if (!plan || plan.kind === 'plain') return undefined;
  if (plan.kind === 'files') return loadTlsFiles(plan.cert, plan.key, log);
  const m = await ensureGenerated(exec, dir, listenHost, log);
  if (m.generated) log?.info({ certFile: m.certFile, fingerprint: m.fingerprint, caFile: m.caFile, caFingerprint: m.caFingerprint }, 'made a TLS server certificate signed by the state dir\'s CA');
  return m;
}
