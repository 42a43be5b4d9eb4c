// The one list of instance drivers. A third runtime (crun, cloud-hypervisor, Firecracker) is a folder
// that exports a DriverFactory plus one line in DRIVERS; core finds drivers only through DriverRegistry.
import type { HostExec } from '../../host/exec.js';
import type { Logger } from '../../lib/log.js';
import { conflict } from '../../lib/errors.js';
import type { Nic } from '../../shared/api-types.js';
import type { NetnsSetup } from '../network/types.js';
import type { InstanceDriver, InstanceKind } from './instance-driver.js';
import type { Accelerator } from './types.js';
import type { GuestArch } from '../../shared/arch-types.js';

/** What core lends every driver (structurally: core's network service and NIC limits implement it). */
export interface DriverPorts {
  exec: HostExec;
  log: Logger;
  network: {
    /** A tap on network `network`'s bridge, openable by `owner` (a uid) after QEMU dropped privileges. */
    createTap(tap: string, network: string, owner?: string): Promise<void>;
    deleteTap(tap: string): Promise<void>;
    tapExists(tap: string): Promise<boolean>;
    /** One veth per NIC into named namespace `netns` (host end on the NIC's bridge), and `setup` inside it. */
    plugNetns(netns: string, nics: Nic[], setup?: NetnsSetup): Promise<void>;
    /** Bandwidth limits on the NIC's host end (removed when none). */
    applyLimits(nic: Nic): Promise<void>;
  };
}

/** Daemon settings the drivers need. */
export interface DriverOptions {
  stateDir: string;
  /** Per-daemon prefix of host object names. */
  prefix: string;
  /** QEMU's shared user (VMs from before per-VM uids). */
  qemuUser: string;
  accelerator: Accelerator;
  /** Emulators by guest architecture instead of the default names. */
  qemuBinaries?: Partial<Record<GuestArch, string>>;
  /** The OCI runtime binary (runc). */
  containerRuntime: string;
}

/** Makes a driver, or says why it is not available on this host (undefined driver + reason). */
export type DriverFactory = (ports: DriverPorts, opts: DriverOptions) => Promise<InstanceDriver | { unavailable: string }>;

/** Every driver nimbo knows: name → the kind of instance it runs and how to load it. */
export const DRIVERS: Record<string, { kind: InstanceKind; load: () => Promise<DriverFactory> }> = {
  qemu: { kind: 'vm', load: async () => (await import('./qemu/instance-driver.js')).createQemuInstanceDriver },
  runc: { kind: 'container', load: async () => (await import('./runc/instance-driver.js')).createRuncInstanceDriver },
};

/** The drivers of this daemon: loaded once at start; unavailable ones keep their reason for messages. */
export class DriverRegistry {
  private constructor(
    private readonly drivers: Map<string, InstanceDriver>,
    private readonly reasons: Map<string, string>,
  ) {}

  /** Load every driver in DRIVERS (or in `only`, for tests); one that cannot run here is kept with its reason. */
  static async open(ports: DriverPorts, opts: DriverOptions, table: Record<string, { kind: InstanceKind; load: () => Promise<DriverFactory> }> = DRIVERS): Promise<DriverRegistry> {
    const drivers = new Map<string, InstanceDriver>();
    const reasons = new Map<string, string>();
    for (const [name, entry] of Object.entries(table)) {
      try {
        const made = await (await entry.load())(ports, opts);
        if ('unavailable' in made) reasons.set(name, made.unavailable);
        else drivers.set(name, made);
      } catch (e) {
        reasons.set(name, e instanceof Error ? e.message : String(e));
        ports.log.warn({ driver: name, err: String(e) }, 'instance driver not available');
      }
    }
    return new DriverRegistry(drivers, reasons);
  }

  /** A registry of given drivers (unit tests). */
  static of(...drivers: InstanceDriver[]): DriverRegistry {
    return new DriverRegistry(new Map(drivers.map((d) => [d.name, d])), new Map());
  }

  /** The driver of a record; Conflict when it is not available on this host. */
  get(name: string): InstanceDriver {
    const d = this.drivers.get(name);
    if (d) return d;
    const kind = DRIVERS[name]?.kind;
    const what = kind === 'container' ? 'containers' : kind === 'vm' ? 'VMs' : `driver ${name}`;
    throw conflict(`${what} are not available on this host (${this.reasons.get(name) ?? `${name} is missing`})`);
  }

  /** The driver for a new instance of a kind (the only type → driver mapping). */
  forKind(kind: InstanceKind): InstanceDriver {
    const local = [...this.drivers.values()].find((d) => d.capabilities().kind === kind);
    if (local) return local;
    const name = Object.entries(DRIVERS).find(([, e]) => e.kind === kind)?.[0] ?? kind;
    return this.get(name);
  }

  all(): InstanceDriver[] {
    return [...this.drivers.values()];
  }

  /** Every known driver, available or not (host info, doctor). */
  info(): { name: string; kind: InstanceKind; available: boolean; reason?: string }[] {
    return Object.entries(DRIVERS).map(([name, e]) => ({ name, kind: e.kind, available: this.drivers.has(name), ...(this.reasons.has(name) ? { reason: this.reasons.get(name)! } : {}) }));
  }

  close(): void {
    for (const d of this.drivers.values()) d.close();
  }
}
