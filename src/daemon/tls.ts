/** The daemon's TLS material: given files, checked before use, or a self-signed pair made once in the state dir. */
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
  /** Where they came from: the operator's files or the pair in the state dir. */
  source: 'files' | 'self-signed';
  certFile: string;
}

/** Days a generated certificate is valid; clients pin it, so it is not rotated behind their backs. */
const SELF_SIGNED_DAYS = 3650;

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

/** The openssl argv that writes a new self-signed P-256 pair (argv only: nothing reaches a shell). */
export function selfSignedArgv(certFile: string, keyFile: string, sans: string[], host = hostname()): string[] {
  const cn = `nimbod@${host.replace(/[^A-Za-z0-9.-]/g, '-')}`.slice(0, 64);
  return [
    'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', String(SELF_SIGNED_DAYS), '-subj', `/CN=${cn}`, '-keyout', keyFile, '-out', certFile,
    // CA:FALSE: a client that trusts this file as a CA must not thereby trust anything its key signs.
    '-addext', `subjectAltName=${sans.join(',')}`, '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth',
  ];
}

/** The state dir's pair: reused when it loads and matches, otherwise made with openssl (dir 0700, key 0600). */
export async function ensureSelfSigned(exec: HostExec, dir: string, listenHost: string, log?: Logger): Promise<TlsMaterial & { generated: boolean }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      chmodSync(keyFile, 0o600);
      const cert = readFileSync(certFile, 'utf8');
      const key = readFileSync(keyFile, 'utf8');
      const { x509 } = checkPair(cert, key, { cert: certFile, key: keyFile });
      return { cert, key, fingerprint: x509.fingerprint256, source: 'self-signed', certFile, generated: false };
    } catch (e) {
      log?.warn({ dir, err: (e as Error).message }, 'the self-signed TLS pair cannot be used; making a new one (clients must pin the new fingerprint)');
    }
  }
  const tmpCert = `${certFile}.tmp`;
  const tmpKey = `${keyFile}.tmp`;
  rmSync(tmpKey, { force: true });
  closeSync(openSync(tmpKey, 'wx', 0o600)); // openssl truncates it and keeps the mode: the key is never world-readable
  try {
    await exec.run(selfSignedArgv(tmpCert, tmpKey, subjectAltNames(listenHost)), { timeoutMs: 60_000 });
    chmodSync(tmpKey, 0o600);
    const cert = readFileSync(tmpCert, 'utf8');
    const key = readFileSync(tmpKey, 'utf8');
    const { x509 } = checkPair(cert, key, { cert: tmpCert, key: tmpKey });
    renameSync(tmpKey, keyFile); // key first: a crash between the renames leaves a mismatch, which is remade
    renameSync(tmpCert, certFile);
    return { cert, key, fingerprint: x509.fingerprint256, source: 'self-signed', certFile, generated: true };
  } finally {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
  }
}

/** The TLS material a plan calls for, or undefined for plain HTTP. */
export async function prepareTls(plan: TlsPlan | undefined, exec: HostExec, dir: string, listenHost: string, log?: Logger): Promise<TlsMaterial | undefined> {
  if (!plan || plan.kind === 'plain') return undefined;
  if (plan.kind === 'files') return loadTlsFiles(plan.cert, plan.key, log);
  const m = await ensureSelfSigned(exec, dir, listenHost, log);
  if (m.generated) log?.info({ certFile: m.certFile, fingerprint: m.fingerprint }, 'made a self-signed TLS certificate');
  return m;
}
