import { join } from 'node:path';
import { invalid } from '../lib/errors.js';
import type { TrailConfig } from './trail-config.js';
import type { GuestArch } from '../shared/arch-types.js';

/** How one nimbod instance is configured (flags of `nimbo daemon`). */
export interface DaemonConfig {
  stateDir: string;
  host: string;
  port: number;
  /** Prefix of every host object this daemon creates (bridge, taps, nft table); lets two daemons share a host. */
  prefix: string;
  /** The default network's IPv4 subnet. */
  subnet: string;
  /** Unprivileged user QEMU runs as. */
  qemuUser: string;
  /** Force an accelerator instead of probing (kvm|tcg). */
  accel?: 'kvm' | 'tcg';
  /** Emulators by guest architecture instead of qemu-system-ARCH on PATH (`--qemu-binary ARCH=PATH`). */
  qemuBinaries?: Partial<Record<GuestArch, string>>;
  /** OCI runtime binary for containers (default runc; crun works on cgroup-v2 hosts). */
  containerRuntime?: string;
  /** How the API is served: plain HTTP (loopback only), HTTPS with given files, or HTTPS with a self-signed pair. */
  tls?: TlsPlan;
  /** How long SIGTERM waits for requests and operations to finish before the daemon exits anyway (ms). */
  shutdownTimeoutMs?: number;
  /** The largest disk image a browser may upload (POST /images/upload), in bytes (default core/image-upload.ts: 16 GiB). */
  uploadMaxBytes?: number;
  /** Serve the public disk images to other daemons (GET /image-server/...): off unless `--image-server`. */
  imageServer?: boolean;
  /** Audit retention, rate limits and webhook targets (core/trail-config.ts; defaults when absent). */
  trail?: Partial<TrailConfig>;
}

/** The TLS decision for one listen address (see planTls). */
export type TlsPlan = { kind: 'plain' } | { kind: 'files'; cert: string; key: string } | { kind: 'self-signed' };

/** TLS flags of `nimbo daemon`: `tls` is true for --tls, false for --no-tls, undefined when neither was given. */
export interface TlsFlags {
  tls?: boolean;
  cert?: string;
  key?: string;
}

export const DEFAULTS = {
  stateDir: '/var/lib/nimbo',
  listen: '127.0.0.1:8443',
  prefix: 'nimbo',
  subnet: '10.123.0.0/24',
  qemuUser: 'nimbo-qemu',
  /** Seconds SIGTERM waits for in-flight requests and operations. */
  shutdownTimeoutS: 30,
};

/** Parse HOST:PORT. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) throw invalid(`--listen ${JSON.stringify(listen)} must be HOST:PORT, e.g. 127.0.0.1:8443`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || /^(0{0,4}:){2,7}0{0,3}1$/.test(h)) return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return !!v4 && Number(v4[1]) === 127 && v4.slice(2).every((o) => Number(o) <= 255);
}

/**
 * Decide how the API is served. Beyond loopback TLS is always on (given files, else a self-signed pair
 * made in the state dir); on loopback it is off unless asked for. Plain HTTP beyond loopback is refused.
 */
export function planTls(host: string, f: TlsFlags): TlsPlan {
  if (!!f.cert !== !!f.key) throw invalid('--tls-cert and --tls-key go together: pass both files, or neither to use a self-signed certificate');
  if (f.tls === false) {
    if (f.cert) throw invalid('--no-tls contradicts --tls-cert/--tls-key: pass one or the other');
    if (!isLoopbackHost(host)) {
      throw invalid(`nimbod will not serve plain HTTP on ${host}, which is not a loopback address: drop --no-tls, and it serves HTTPS with --tls-cert/--tls-key or with a self-signed certificate it creates in the state dir`);
    }
    return { kind: 'plain' };
  }
  if (f.cert && f.key) return { kind: 'files', cert: f.cert, key: f.key };
  return f.tls || !isLoopbackHost(host) ? { kind: 'self-signed' } : { kind: 'plain' };
}

/** Check the host-object prefix: 1-6 lower-case letters/digits, starting with a letter (interface names are at most 15 chars). */
export function validatePrefix(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) throw invalid(`prefix ${JSON.stringify(prefix)} must be 1-6 lower-case letters or digits, starting with a letter`);
  return prefix;
}

/** Well-known paths inside a state dir. */
export function statePaths(stateDir: string) {
  return {
    db: join(stateDir, 'state.db'),
    token: join(stateDir, 'admin.token'),
    /** The first admin's user, password and token (JSON, mode 0600), written at the first start. */
    adminCredentials: join(stateDir, 'admin.credentials'),
    daemonJson: join(stateDir, 'daemon.json'),
    pidFile: join(stateDir, 'nimbod.pid'),
    logs: join(stateDir, 'logs'),
    images: join(stateDir, 'images'),
    instances: join(stateDir, 'instances'),
    networks: join(stateDir, 'networks'),
    cache: join(stateDir, 'cache'),
    /** The self-signed TLS pair nimbod makes on first start (dir 0700, key 0600). */
    tlsDir: join(stateDir, 'tls'),
    /** The audit log: one JSON-lines file per UTC day (dir 0700, files 0600). */
    audit: join(stateDir, 'audit'),
    /** Per-instance runtime dir (unix sockets: keep it short). */
    run: (name: string) => join(stateDir, 'run', name),
    instance: (name: string) => join(stateDir, 'instances', name),
    image: (name: string) => join(stateDir, 'images', name),
  };
}
export type StatePaths = ReturnType<typeof statePaths>;
