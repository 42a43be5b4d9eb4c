import type { ChildProcess } from '../host/spawn.js';
import { Readable } from 'node:stream';
import { encodeFrame, FRAME, frameHead } from '../shared/exec-frames.js';
import { NimboError } from '../lib/errors.js';

/*
 * Output of commands run in containers, never held whole by the daemon: a JSON exec keeps at most
 * EXEC_OUTPUT_CAP of each stream (and says it truncated), a streamed exec or a file pull passes
 * the bytes on as fast as the client takes them (the child is paused while the client lags).
 */

/** Most bytes of stdout (and of stderr) the JSON answer of an exec carries; the rest is read and dropped. */
export const EXEC_OUTPUT_CAP = 1024 * 1024;
/** Largest file a pull sends (the transfer is cut past it). */
export const FILE_PULL_MAX = 16 * 1024 * 1024 * 1024;
/** A pull is cut when the file gives no byte for this long while the client is waiting for more. */
export const FILE_PULL_STALL_MS = 30_000;
/** A pull is cut after this long in all. */
export const FILE_PULL_MAX_MS = 3600_000;
/** stderr kept for error messages. */
const STDERR_TAIL = 4096;
/** Exit code of an exec the daemon ended for running past its timeout (as timeout(1) uses). */
export const EXEC_TIMED_OUT = 124;

/** End a command on timeout: SIGTERM (runc passes it on), SIGKILL 5 s later; `fired` says whether it happened. */
function deadline(child: ChildProcess, ms: number): { fired: () => boolean; clear: () => void } {
  let fired = false;
  let hard: NodeJS.Timeout | undefined;
  const soft = setTimeout(() => {
    fired = true;
    child.kill('SIGTERM');
    hard = setTimeout(() => child.kill('SIGKILL'), 5000);
  }, ms);
  return { fired: () => fired, clear: () => (clearTimeout(soft), clearTimeout(hard)) };
}

function feed(child: ChildProcess, input?: string | Buffer): void {
  child.stdin?.on('error', () => {});
  child.stdin?.end(input ?? Buffer.alloc(0));
}

function closed(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once('close', (c: number | null, sig: NodeJS.Signals | null) => resolve(c ?? (sig === 'SIGKILL' ? 137 : 255))));
}

/** A capped collection of one output stream. */
class Capped {
  private parts: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}
  add(b: Buffer): void {
    if (this.size >= this.cap) {
      this.truncated = true;
      return;
    }
    const take = b.subarray(0, this.cap - this.size);
    if (take.length < b.length) this.truncated = true;
    this.parts.push(Buffer.from(take)); // a copy: never pin the child's whole read buffer
    this.size += take.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** What a capped exec ended with. */
export interface CappedResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: { stdout: boolean; stderr: boolean };
}

/** Run a spawned command to its end, keeping at most `cap` bytes of each stream; Timeout past timeoutMs. */
export async function collectCapped(child: ChildProcess, input: string | Buffer | undefined, timeoutMs: number, cap = EXEC_OUTPUT_CAP): Promise<CappedResult> {
  const out = new Capped(cap);
  const err = new Capped(cap);
  child.stdout?.on('data', (b: Buffer) => out.add(b));
  child.stderr?.on('data', (b: Buffer) => err.add(b));
  const timer = deadline(child, timeoutMs);
  feed(child, input);
  const code = await closed(child);
  timer.clear();
  if (timer.fired()) throw new NimboError('Timeout', `the command did not finish in ${Math.round(timeoutMs / 1000)} s and was killed`);
  return { code, stdout: out.bytes(), stderr: err.bytes(), truncated: { stdout: out.truncated, stderr: err.truncated } };
}

/**
 * A child's output as a Readable that reads the child only while the consumer keeps up
 * (backpressure reaches the command through the pipe). Framed: stdout and stderr as exec-stream
 * frames and an exit frame at the end; raw: stdout's bytes only (stderr's tail kept for errors).
 */
export class ChildOutput extends Readable {
  private sources: Readable[] = [];
  private ended = false;
  private bytes = 0;
  private stderrTail: Buffer = Buffer.alloc(0);
  private lastMove = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private gate: Promise<void>;
  private openGate!: () => void;
  /** Exit code once the child ended. */
  code: number | null = null;

  constructor(
    private readonly child: ChildProcess,
    private readonly o: { framed: boolean; maxBytes?: number; stallMs?: number; maxMs?: number; mapCode?: (code: number, stderrTail: string) => number },
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.gate = new Promise((r) => (this.openGate = r));
    const attach = (s: Readable | null, kind: number) => {
      if (!s) return;
      this.sources.push(s);
      s.on('data', (b: Buffer) => this.onData(kind, b));
    };
    attach(child.stdout, FRAME.stdout);
    attach(child.stderr, FRAME.stderr);
    void closed(child).then((code) => this.onClose(code));
    if (o.maxMs) this.timers.push(setTimeout(() => this.cut(`took longer than ${Math.round(o.maxMs! / 1000)} s`), o.maxMs));
    if (o.stallMs) {
      const t = setInterval(() => {
        // Only a stall of the source counts, not a client that reads slowly (the sources are paused then).
        if (!this.sources[0]?.isPaused() && Date.now() - this.lastMove > o.stallMs!) this.cut(`gave no data for ${Math.round(o.stallMs! / 1000)} s`);
      }, Math.min(o.stallMs, 1000));
      this.timers.push(t);
    }
  }

  /** Resolves once the first byte of output is there or the child ended (then `code` is set and nothing was sent yet). */
  ready(): Promise<void> {
    return this.gate;
  }

  /** The last bytes the child wrote on stderr (raw mode). */
  stderrText(): string {
    return this.stderrTail.toString('utf8');
  }

  private onData(kind: number, b: Buffer): void {
    this.lastMove = Date.now();
    if (!this.o.framed && kind === FRAME.stderr) {
      this.stderrTail = Buffer.concat([this.stderrTail, b]).subarray(-STDERR_TAIL);
      return;
    }
    if (this.o.framed && kind === FRAME.stderr) this.stderrTail = Buffer.concat([this.stderrTail, b]).subarray(-STDERR_TAIL);
    this.bytes += b.length;
    if (this.o.maxBytes !== undefined && this.bytes > this.o.maxBytes) return this.cut(`passed ${this.o.maxBytes} bytes`);
    this.openGate();
    // Framed: the 5-byte head and the chunk go out as two pushes, so the output is never copied.
    const more = this.o.framed ? this.push(frameHead(kind, b.length)) && this.push(b) : this.push(b);
    if (!more) for (const s of this.sources) s.pause();
  }

  private onClose(code: number): void {
    for (const t of this.timers) clearInterval(t);
    if (this.destroyed) return;
    this.code = this.o.mapCode ? this.o.mapCode(code, this.stderrTail.toString('utf8')) : code;
    this.ended = true;
    this.openGate();
    if (this.o.framed) this.push(encodeFrame(FRAME.exit, Buffer.from(String(this.code))));
    else if (code !== 0 && this.bytes > 0) return void this.destroy(new Error(`the command ended with exit ${code} mid-transfer: ${this.stderrText().trim().slice(-200)}`));
    this.push(null);
  }

  /** Stop the transfer: the child is killed and the consumer sees an error (a cut, never a silently short result). */
  private cut(why: string): void {
    if (this.ended || this.destroyed) return;
    this.openGate();
    this.destroy(new NimboError('Conflict', `transfer cut: it ${why}`));
  }

  override _read(): void {
    this.lastMove = Date.now();
    for (const s of this.sources) s.resume();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    for (const t of this.timers) clearInterval(t);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    }
    for (const s of this.sources) s.destroy(); // the command's next write fails (EPIPE) rather than waiting on a full pipe
    cb(err);
  }

  /** Feed stdin and (exec) end the command past timeoutMs: it then ends with EXEC_TIMED_OUT and a note on stderr. */
  start(input?: string | Buffer, timeoutMs?: number): this {
    feed(this.child, input);
    if (timeoutMs) {
      const timer = deadline(this.child, timeoutMs);
      const base = this.o.mapCode;
      this.o.mapCode = (code, tail) => {
        timer.clear();
        if (!timer.fired()) return base ? base(code, tail) : code;
        if (this.o.framed && !this.destroyed) this.push(encodeFrame(FRAME.stderr, Buffer.from(`nimbo: the command did not finish in ${Math.round(timeoutMs / 1000)} s and was killed\n`)));
        return EXEC_TIMED_OUT;
      };
    }
    return this;
  }
}
