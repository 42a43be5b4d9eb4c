// Commands and files inside running instances whose driver can exec (capability exec): exec with
// captured or streamed output, interactive ptys, file pull/push through `sh` and `cat` in the
// instance (so its own root and permissions apply). Everything a tenant can make big is capped.
// VMs run commands through their guest agent (exec only: no pty, output capped, sent at the end).
import { Readable } from 'node:stream';
import type { ChildProcess } from '../host/spawn.js';
import { conflict, invalid, notFound } from '../lib/errors.js';
import { ChildOutput, collectCapped, EXEC_OUTPUT_CAP, FILE_PULL_MAX, FILE_PULL_MAX_MS, FILE_PULL_STALL_MS } from './container-exec.js';
import { encodeFrame, FRAME } from '../shared/exec-frames.js';
import type { GuestExecResult } from '../drivers/compute/guest-agent-port.js';
import type { InstanceRecord } from './instance-record.js';
import type { InstanceRuntime } from './instance-runtime.js';

/** An absolute path inside an instance, without NUL. */
function checkPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.length > 4096) throw invalid(`path "${path}" must be absolute`);
  return path;
}

/** Pull: exit 3 for anything but a regular file (a FIFO or device would block or never end), else cat it. */
const PULL_SCRIPT = '[ -f "$1" ] || { [ -e "$1" ] && exit 3; echo "$1: No such file or directory" >&2; exit 2; }; exec cat -- "$1"';

/** exec, files and ptys in running instances. */
export class InstanceExec {
  constructor(private runtime: InstanceRuntime) {}

  /** A process in the running instance: Conflict when its driver cannot exec or it does not run. */
  private async spawnIn(rec: InstanceRecord, args: string[], opts: { tty: boolean; rows?: number; cols?: number }, vmHint?: string): Promise<ChildProcess> {
    const caps = this.runtime.caps(rec);
    if (!caps.exec) throw conflict(`${rec.name} is a VM: ${vmHint ?? caps.execHint ?? 'use ssh or the console'}`);
    if (rec.state !== 'running') throw conflict(`container ${rec.name} is ${rec.state}`);
    return this.runtime.driverOf(rec).exec(this.runtime.refOf(rec), args, opts);
  }

  /** A command on a pty in a running instance (its exit code is the child's). */
  execTty(rec: InstanceRecord, args: string[], size: { rows?: number; cols?: number } = {}): Promise<ChildProcess> {
    return this.spawnIn(rec, args, { tty: true, ...size }, 'no pty exec (-t) for VMs: run it without -t (through the guest agent)');
  }

  /** A VM whose driver has a guest agent: the command through it (undefined: not such a VM). */
  private async viaAgent(rec: InstanceRecord, args: string[], input: string | undefined, timeoutMs: number): Promise<GuestExecResult | undefined> {
    if (this.runtime.caps(rec).exec) return undefined;
    const ga = this.runtime.driverOf(rec).guestAgent;
    if (!ga) return undefined;
    if (rec.state !== 'running') throw conflict(`VM ${rec.name} is ${rec.state}: exec runs commands in a running VM through its guest agent`);
    return ga.exec(this.runtime.refOf(rec), args, { ...(input ? { input: Buffer.from(input, 'utf8') } : {}), timeoutMs, maxOutputBytes: EXEC_OUTPUT_CAP });
  }

  /**
   * Read a file inside a running instance as a stream. Only regular files: a FIFO or device is refused
   * before any byte, and the transfer is cut past FILE_PULL_MAX bytes, FILE_PULL_STALL_MS without data or FILE_PULL_MAX_MS.
   */
  async pullFile(rec: InstanceRecord, path: string): Promise<ChildOutput> {
    const child = await this.spawnIn(rec, ['sh', '-c', PULL_SCRIPT, 'nimbo-pull', checkPath(path)], { tty: false }, 'copy files with scp');
    const out = new ChildOutput(child, { framed: false, maxBytes: FILE_PULL_MAX, stallMs: FILE_PULL_STALL_MS, maxMs: FILE_PULL_MAX_MS }).start();
    await out.ready();
    if (out.errored) throw out.errored;
    if (out.code === null || out.code === 0) return out;
    const why = out.stderrText().trim();
    if (out.code === 3) throw invalid(`${path} in ${rec.name} is not a regular file: only regular files can be pulled (not FIFOs, devices or directories)`);
    if (out.code === 127) throw conflict(`container ${rec.name} has no sh or cat: cannot read files from it`);
    throw notFound(`${path} in ${rec.name}: ${why}`);
  }

  /** Write a file inside a running instance (through `sh` and `cat` in it), then set its mode. */
  async pushFile(rec: InstanceRecord, path: string, data: Buffer, mode = '0644'): Promise<void> {
    if (!/^0?[0-7]{3,4}$/.test(mode)) throw invalid(`mode "${mode}" must be octal, e.g. 0644`);
    const child = await this.spawnIn(rec, ['sh', '-c', 'cat > "$1" && chmod "$2" "$1"', 'nimbo-push', checkPath(path), mode], { tty: false }, 'copy files with scp');
    const r = await collectCapped(child, data, 3600_000, 64 * 1024);
    if (r.code === 127) throw conflict(`container ${rec.name} has no sh: cannot write files into it`);
    if (r.code !== 0) throw invalid(`cannot write ${path} in ${rec.name}: ${r.stderr.toString('utf8').trim()}`);
  }

  /** Run a command in a running instance; exit code passed through, at most EXEC_OUTPUT_CAP of each stream kept. */
  async exec(rec: InstanceRecord, args: string[], input?: string, timeoutMs = 60_000) {
    const g = await this.viaAgent(rec, args, input, timeoutMs);
    if (g) return { code: g.code, stdout: g.stdout.toString('utf8'), stderr: g.stderr.toString('utf8'), truncated: g.truncated };
    const r = await collectCapped(await this.spawnIn(rec, args, { tty: false }), input, timeoutMs);
    const stderr = r.stderr.toString('utf8');
    const code = this.runtime.driverOf(rec).execExitCode(this.runtime.refOf(rec), r.code, stderr);
    return { code, stdout: r.stdout.toString('utf8'), stderr, truncated: r.truncated };
  }

  /** Run a command in a running instance, its output as an exec stream (frames; read as fast as the client reads). */
  async execStream(rec: InstanceRecord, args: string[], input?: string, timeoutMs = 60_000): Promise<Readable> {
    const g = await this.viaAgent(rec, args, input, timeoutMs);
    if (g) {
      // The agent hands the output over once the command ended (capped): the same frames, all at the end.
      const note = g.truncated.stdout || g.truncated.stderr ? [encodeFrame(FRAME.stderr, Buffer.from(`nimbo: output cut at ${EXEC_OUTPUT_CAP} bytes per stream (guest agent exec)\n`))] : [];
      const frames = [
        ...(g.stdout.length ? [encodeFrame(FRAME.stdout, g.stdout)] : []), ...(g.stderr.length ? [encodeFrame(FRAME.stderr, g.stderr)] : []),
        ...note, encodeFrame(FRAME.exit, Buffer.from(String(g.code))),
      ];
      return Readable.from(frames);
    }
    const driver = this.runtime.driverOf(rec);
    const ref = this.runtime.refOf(rec);
    const child = await this.spawnIn(rec, args, { tty: false });
    const mapCode = (code: number, tail: string) => {
      try {
        return driver.execExitCode(ref, code, tail);
      } catch {
        return code; // a paused container: its message is in the stream's stderr already
      }
    };
    return new ChildOutput(child, { framed: true, mapCode }).start(input, timeoutMs);
  }
}
