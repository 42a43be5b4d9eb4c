import { join } from 'node:path';
import { invalid } from './errors.js';

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
  /** OCI runtime binary for containers (default runc; crun works on cgroup-v2 hosts). */
  containerRuntime?: string;
}

export const DEFAULTS = {
  stateDir: '/var/lib/nimbo',
  listen: '127.0.0.1:8443',
  prefix: 'nimbo',
  subnet: '10.123.0.0/24',
  qemuUser: 'nimbo-qemu',
};

/** Parse HOST:PORT. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) throw invalid(`--listen ${JSON.stringify(listen)} must be HOST:PORT, e.g. 127.0.0.1:8443`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
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
    daemonJson: join(stateDir, 'daemon.json'),
    pidFile: join(stateDir, 'nimbod.pid'),
    logs: join(stateDir, 'logs'),
    images: join(stateDir, 'images'),
    instances: join(stateDir, 'instances'),
    networks: join(stateDir, 'networks'),
    cache: join(stateDir, 'cache'),
    /** Per-instance runtime dir (unix sockets: keep it short). */
    run: (name: string) => join(stateDir, 'run', name),
    instance: (name: string) => join(stateDir, 'instances', name),
    image: (name: string) => join(stateDir, 'images', name),
  };
}
export type StatePaths = ReturnType<typeof statePaths>;
