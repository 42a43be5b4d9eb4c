// What a driver offers through an instance's guest agent (VMs running qemu-ga): status and addresses,
// commands with captured output, passwords. Core reaches it as InstanceDriver.guestAgent.

/** The part of an InstanceRef the guest agent needs (the VM's name and runtime dir). */
export interface GuestRef {
  name: string;
  hostIds: { runDir: string };
}

/** What the guest agent reports about the guest; available false when none answers. */
export interface GuestAgentStatus {
  available: boolean;
  version?: string;
  /** The guest's interfaces and addresses (loopback left out). */
  interfaces?: { name: string; mac?: string; addresses: { family: 'ipv4' | 'ipv6'; address: string; prefix: number }[] }[];
}

/** A command's end through the agent: exit code (128+N: killed by signal N), capped output. */
export interface GuestExecResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: { stdout: boolean; stderr: boolean };
}

/** The guest agent of running instances. */
export interface GuestAgentPort {
  /** Whether an agent answers, and what it reports (never throws for a missing agent). */
  status(ref: GuestRef): Promise<GuestAgentStatus>;
  /** Run argv in the guest; Conflict when no agent answers; the command is killed past timeoutMs (exit 124). */
  exec(ref: GuestRef, args: string[], opts: { input?: Buffer; timeoutMs: number; maxOutputBytes: number }): Promise<GuestExecResult>;
  /** Set a guest user's password (a crypt(3) hash with crypted); Conflict when no agent answers. */
  setPassword(ref: GuestRef, user: string, password: string, crypted: boolean): Promise<void>;
}
