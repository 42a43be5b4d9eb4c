// The QEMU guest agent (qemu-ga) session over a VM's virtio-serial channel (RUNDIR/qga.sock).
// Protocol: QMP-like JSON lines, no greeting. A session starts with guest-sync-delimited, preceded
// by a 0xFF byte that resets the agent's parser, and drops everything up to the agent's own 0xFF,
// so stale replies from an earlier session never pass for ours. One request at a time per socket.
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { NimboError } from '../../../lib/errors.js';

/** Default timeout of one agent call (connect, sync and the command together). */
export const AGENT_TIMEOUT_MS = 10_000;
/** Default bound of one reply line from the agent. */
export const AGENT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Options of one agent call. */
export interface AgentCallOptions {
  /** The whole call (waiting for the socket, connect, sync, command) within this (default AGENT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Bound of one reply line (default AGENT_MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
}

/** A command the agent answered with an error (its class and description kept). */
export class GuestAgentError extends NimboError {
  constructor(readonly command: string, readonly agentClass: string, readonly desc: string) {
    super(agentClass === 'CommandNotFound' ? 'InvalidArgument' : 'HostCommandFailed', `guest agent ${command}: ${desc}`, { command, agentClass, desc });
  }
}

const DELIM = 0xff;
const NL = 0x0a;

/** One synced connection to the agent; one request at a time. withGuestAgent() opens one. */
export class GuestAgentSession {
  private buf: Buffer = Buffer.alloc(0);
  private wake?: () => void;
  private closed = false;
  private closeError?: Error;
  private seq = 1;

  private constructor(private readonly sock: Socket, private readonly path: string) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('error', (e) => (this.closeError ??= e));
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** Connect to the agent socket and sync (guest-sync-delimited); Timeout when no agent answers by `deadline`. */
  static async open(path: string, deadline: number): Promise<GuestAgentSession> {
    const sock = await openSocket(path, deadline);
    const s = new GuestAgentSession(sock, path);
    try {
      await s.sync(deadline);
      return s;
    } catch (e) {
      s.close();
      throw e;
    }
  }

  /**
   * Run one command: resolves with its `return`; GuestAgentError on an error reply, Timeout past
   * `deadline`. noReply: for commands that answer only on failure (guest-shutdown): an error reply
   * within noReplyWaitMs throws; silence, or the channel closing, is success.
   */
  async call<T = unknown>(command: string, args: Record<string, unknown> | undefined, deadline: number,
    opts: { maxResponseBytes?: number; noReply?: boolean; noReplyWaitMs?: number } = {}): Promise<T> {
    const id = `nimbo-${this.seq++}`;
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg.arguments = args;
    this.write(Buffer.from(JSON.stringify(msg) + '\n'), command);
    const max = opts.maxResponseBytes ?? AGENT_MAX_RESPONSE_BYTES;
    const until = opts.noReply ? Math.min(deadline, Date.now() + (opts.noReplyWaitMs ?? 1000)) : deadline;
    for (;;) {
      let line: Buffer;
      try {
        line = await this.readLine(until, max, command);
      } catch (e) {
        if (opts.noReply && e instanceof NimboError && (e.code === 'Timeout' || e.code === 'Conflict')) return undefined as T;
        throw e;
      }
      const reply = parse(line);
      if (!reply || !('return' in reply || 'error' in reply)) continue;
      if (reply.id !== undefined && reply.id !== id) continue; // a stale reply to another request
      if ('error' in reply) {
        const err = (reply.error ?? {}) as { class?: string; desc?: string };
        throw new GuestAgentError(command, err.class ?? 'GenericError', err.desc ?? 'unknown error');
      }
      return reply.return as T;
    }
  }

  /** Close the connection. */
  close(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private async sync(deadline: number): Promise<void> {
    const id = randomInt(1, 2 ** 31 - 1);
    const req = JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n';
    this.write(Buffer.concat([Buffer.from([DELIM]), Buffer.from(req)]), 'guest-sync-delimited');
    for (;;) {
      // Everything before the agent's 0xFF is stale (or its complaint about our 0xFF): dropped.
      await this.skipToDelimiter(deadline);
      const reply = parse(await this.readLine(deadline, AGENT_MAX_RESPONSE_BYTES, 'guest-sync-delimited'));
      if (reply && reply.return === id) return;
    }
  }

  private write(data: Buffer, command: string): void {
    if (this.closed) throw this.closedError(command);
    this.sock.write(data);
  }

  private async skipToDelimiter(deadline: number): Promise<void> {
    for (;;) {
      const i = this.buf.indexOf(DELIM);
      if (i >= 0) {
        this.buf = this.buf.subarray(i + 1);
        return;
      }
      this.buf = Buffer.alloc(0);
      await this.more(deadline, 'guest-sync-delimited');
    }
  }

  /** The next non-empty line (without its line end), at most maxBytes long. */
  private async readLine(deadline: number, maxBytes: number, command: string): Promise<Buffer> {
    for (;;) {
      const nl = this.buf.indexOf(NL);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        if (line.length > maxBytes) throw this.tooLarge(command, maxBytes);
        // A stray 0xFF (an agent's own resync) is not part of a JSON reply.
        const clean = line.filter((b) => b !== DELIM && b !== 0x0d);
        if (clean.length > 0) return Buffer.from(clean);
        continue;
      }
      if (this.buf.length > maxBytes) throw this.tooLarge(command, maxBytes);
      await this.more(deadline, command);
    }
  }

  private tooLarge(command: string, maxBytes: number): NimboError {
    this.close();
    return new NimboError('TooLarge', `guest agent ${command}: reply larger than ${maxBytes} bytes`, { command, maxBytes });
  }

  private closedError(command: string): NimboError {
    const why = this.closeError ? `: ${this.closeError.message}` : '';
    return new NimboError('Conflict', `guest agent ${command}: the channel closed (VM stopped?)${why}`, { command, path: this.path });
  }

  /** Wait for more data, the close, or the deadline. */
  private more(deadline: number, command: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError(command));
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(timeoutError(command, this.path));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(timeoutError(command, this.path));
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        if (this.closed && this.buf.length === 0) reject(this.closedError(command));
        else resolve();
      };
    });
  }
}

function timeoutError(command: string, path: string): NimboError {
  return new NimboError('Timeout', `guest agent ${command}: no answer in time (is qemu-ga running in the guest?)`, { command, path });
}

function parse(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function openSocket(path: string, deadline: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(timeoutError('connect', path));
    }, Math.max(1, deadline - Date.now()));
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'Conflict' : 'Internal';
      reject(new NimboError(code, `guest agent channel ${path}: ${e.message} (VM not running, or started without the agent channel)`, { path }, e));
    });
  });
}

/** Per socket path, the tail of the queue of sessions: QEMU serves one client per chardev socket. */
const queues = new Map<string, Promise<void>>();

/** Run `fn` on a synced session of the agent at `path`; sessions on one path run one at a time. */
export async function withGuestAgent<T>(path: string, fn: (s: GuestAgentSession, deadline: number) => Promise<T>, opts: AgentCallOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? AGENT_TIMEOUT_MS);
  const prev = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(path, tail);
  try {
    await waitTurn(prev, deadline, path);
    const s = await GuestAgentSession.open(path, deadline);
    try {
      return await fn(s, deadline);
    } finally {
      s.close();
    }
  } finally {
    release();
    if (queues.get(path) === tail) queues.delete(path);
  }
}

function waitTurn(prev: Promise<void>, deadline: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new NimboError('Timeout', `guest agent ${path}: still busy with another request`, { path })),
      Math.max(1, deadline - Date.now()),
    );
    void prev.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
