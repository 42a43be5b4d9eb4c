// The guest agent of the QEMU driver's VMs (GuestAgentPort): whether the guest opened the agent port
// (QMP VSERPORT_CHANGE), status and addresses, exec with capped output, passwords, freezes.
import { resolve } from 'node:path';
import { conflict, NimboError } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import type { GuestAgentPort, GuestAgentStatus, GuestExecResult, GuestRef } from '../guest-agent-port.js';
import { agentExec, agentExecStatus, agentSetUserPassword, GuestAgentError, parseInterfaces, withGuestAgent } from './guest-agent.js';
import { noAgent, withGuestFrozen, type FrozenResult } from './guest-freeze.js';
import type { QmpClient } from './qmp.js';
import { runPaths } from './run-paths.js';

/** The qdev id of the agent's virtserialport (argv.ts). */
const AGENT_PORT_ID = 'qga-port0';
/** After an agent did not answer on a VM whose port state is unknown, how long before asking again. */
const UNKNOWN_RETRY_MS = 30_000;

/** Per VM, what is known of its agent port. */
interface PortState {
  /** From VSERPORT_CHANGE; undefined: not seen (a VM adopted after a daemon restart). */
  open?: boolean;
  /** When an agent last failed to answer while `open` was unknown. */
  failedAt?: number;
}

/** The guest agents of the QEMU driver's VMs. */
export class VmGuestAgent implements GuestAgentPort {
  private readonly ports = new Map<string, PortState>();

  constructor(private readonly o: { live: (ref: GuestRef) => Promise<boolean>; log: Logger; statusTimeoutMs?: number }) {}

  /** Follow a VM's QMP connection: the guest opening or closing the agent port. */
  watch(runDir: string, client: QmpClient): void {
    client.on('event', (ev) => {
      if (ev.event !== 'VSERPORT_CHANGE' || ev.data?.id !== AGENT_PORT_ID) return;
      this.ports.set(resolve(runDir), { open: ev.data.open === true });
    });
  }

  /** A fresh QEMU of this VM starts: the port is closed until its guest opens it. */
  starting(runDir: string): void {
    this.ports.set(resolve(runDir), { open: false });
  }

  /** The agent socket of a running VM whose agent may answer; undefined when it surely will not. */
  async socketOf(ref: GuestRef): Promise<string | undefined> {
    const runDir = resolve(ref.hostIds.runDir);
    if (!(await this.o.live(ref))) return undefined;
    const st = this.ports.get(runDir);
    if (st?.open === false) return undefined;
    if (st?.open === undefined && st?.failedAt !== undefined && Date.now() - st.failedAt < UNKNOWN_RETRY_MS) return undefined;
    return runPaths(runDir).qga;
  }

  private failed(ref: GuestRef): void {
    const runDir = resolve(ref.hostIds.runDir);
    const st = this.ports.get(runDir);
    if (st?.open === undefined) this.ports.set(runDir, { failedAt: Date.now() });
  }

  async status(ref: GuestRef): Promise<GuestAgentStatus> {
    const path = await this.socketOf(ref);
    if (!path) return { available: false };
    try {
      return await withGuestAgent(path, async (s, deadline) => {
        const info = await s.call<{ version?: unknown }>('guest-info', undefined, deadline);
        const ifs = await s.call<unknown>('guest-network-get-interfaces', undefined, deadline).then(parseInterfaces, () => []);
        const version = typeof info?.version === 'string' ? info.version.slice(0, 64) : 'unknown';
        return { available: true, version, interfaces: ifs.filter((i) => i.name !== 'lo') };
      }, { timeoutMs: this.o.statusTimeoutMs ?? 3000 });
    } catch (e) {
      if (noAgent(e)) this.failed(ref);
      else this.o.log.warn({ vm: ref.name, err: (e as Error).message }, 'guest agent status failed');
      return { available: false };
    }
  }

  /** The socket of an agent that answers a ping, else Conflict saying why `what` needs one. */
  private async require(ref: GuestRef, what: string): Promise<string> {
    const path = await this.socketOf(ref);
    const refuse = () => conflict(`VM ${ref.name} has no guest agent answering: ${what} needs qemu-guest-agent running in the guest (the built-in tiny, tiny-aarch64, tiny-riscv64 and debian-12 images have it)`);
    if (!path) throw refuse();
    try {
      await withGuestAgent(path, (s, deadline) => s.call('guest-ping', undefined, deadline), { timeoutMs: 5000 });
    } catch (e) {
      if (noAgent(e)) {
        this.failed(ref);
        throw refuse();
      }
      throw e;
    }
    return path;
  }

  async exec(ref: GuestRef, args: string[], opts: { input?: Buffer; timeoutMs: number; maxOutputBytes: number }): Promise<GuestExecResult> {
    if (args.length === 0) throw new NimboError('InvalidArgument', 'exec needs a command');
    const path = await this.require(ref, 'exec');
    let pid: number;
    try {
      pid = await agentExec(path, { path: args[0]!, args: args.slice(1), input: opts.input, captureOutput: true });
    } catch (e) {
      // The program could not start (not found, not executable): a shell's 127 and the agent's reason.
      if (e instanceof GuestAgentError) return { code: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${e.desc}\n`), truncated: { stdout: false, stderr: false } };
      throw e;
    }
    const until = Date.now() + opts.timeoutMs;
    let wait = 20;
    for (;;) {
      const st = await agentExecStatus(path, pid, { maxOutputBytes: opts.maxOutputBytes });
      if (st.exited) {
        const code = st.exitCode ?? (st.signal !== undefined ? 128 + st.signal : 0);
        return { code, stdout: st.stdout, stderr: st.stderr, truncated: { stdout: st.stdoutTruncated, stderr: st.stderrTruncated } };
      }
      if (Date.now() + wait > until) break;
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(500, wait * 2);
    }
    // qemu-ga cannot kill what it started; a second guest-exec can.
    await agentExec(path, { path: 'kill', args: ['-KILL', String(pid)], captureOutput: false }).catch(() => undefined);
    const note = `nimbo: the command did not finish in ${Math.round(opts.timeoutMs / 1000)} s and was killed\n`;
    return { code: 124, stdout: Buffer.alloc(0), stderr: Buffer.from(note), truncated: { stdout: false, stderr: false } };
  }

  async setPassword(ref: GuestRef, user: string, password: string, crypted: boolean): Promise<void> {
    const path = await this.require(ref, 'setting a password');
    await agentSetUserPassword(path, user, password, { crypted });
  }

  /** Run `instant` with the VM's filesystems frozen when its agent answers (crash-consistent otherwise). */
  async frozen<T>(ref: GuestRef, instant: () => Promise<T>, log: (line: string) => void): Promise<FrozenResult<T>> {
    const path = await this.socketOf(ref);
    if (!path) {
      log('no guest agent in this VM: crash-consistent');
      return { result: await instant(), consistency: 'crash' };
    }
    return withGuestFrozen(path, instant, { log });
  }
}
