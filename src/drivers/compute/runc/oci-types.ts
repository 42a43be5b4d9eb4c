// The OCI runtime config's shape as nimbo writes it (the subset of the runtime spec it uses).

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: 'c' | 'b' | 'a';
  major?: number;
  minor?: number;
  access: string;
}

export interface OciThrottle {
  major: number;
  minor: number;
  rate: number;
}

/** One argument comparison of a seccomp rule (SCMP_CMP_EQ, _NE, _MASKED_EQ: (arg & value) == valueTwo). */
export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  /** All must hold (AND); several rules for one syscall are alternatives (OR). */
  args?: OciSeccompArg[];
}

/** linux.seccomp of config.json. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: OciSeccompRule[];
}

/** The subset of the OCI runtime config nimbo writes (field names as in the spec). */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits?: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: {
    uidMappings: OciIdMapping[];
    gidMappings: OciIdMapping[];
    resources: {
      devices: OciDeviceRule[];
      memory?: { limit: number; swap?: number };
      cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
      pids?: { limit: number };
      blockIO?: {
        weight?: number;
        throttleReadBpsDevice?: OciThrottle[];
        throttleWriteBpsDevice?: OciThrottle[];
        throttleReadIOPSDevice?: OciThrottle[];
        throttleWriteIOPSDevice?: OciThrottle[];
      };
      unified?: Record<string, string>;
    };
    cgroupsPath: string;
    namespaces: { type: string; path?: string }[];
    devices: OciDevice[];
    seccomp: OciSeccomp;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}
