import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { NimboError, type ErrorCode } from '../../../lib/errors.js';

/** An asynchronous QMP event (SHUTDOWN, STOP, RESUME, ...). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** The greeting QEMU sends on connect (QMP spec, docs/interop/qmp-spec.txt). */
export interface QmpGreeting {
  QMP: { version: { qemu: { major: number; minor: number; micro: number }; package?: string }; capabilities: string[] };
}

/** Options of QmpClient.connect. */
export interface QmpConnectOptions {
  /** Give up connecting + greeting + qmp_capabilities after this long (default 5 s). */
  timeoutMs?: number;
  /** Keep retrying while the socket is missing or refuses (QEMU still starting); default false. */
  retry?: boolean;
  /** Default timeout of execute() (default 30 s). */
  commandTimeoutMs?: number;
}

/** A QMP command that QEMU answered with an error (its class and description kept). */
export class QmpError extends NimboError {
  constructor(readonly command: string, readonly qmpClass: string, readonly desc: string) {
    super(qmpErrorCode(qmpClass), `QMP ${command}: ${desc}`, { command, qmpClass, desc });
  }
}

function qmpErrorCode(cls: string): ErrorCode {
  if (cls === 'DeviceNotFound') return 'NotFound';
  if (cls === 'CommandNotFound') return 'InvalidArgument';
  if (cls === 'DeviceNotActive') return 'Conflict';
  return 'HostCommandFailed';
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A QMP client over a unix socket: commands correlated by id, events to listeners. */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [Error | undefined] }> {
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private greetingWaiter?: (g: QmpGreeting) => void;
  private closeError?: Error;
  /** Events that came before anyone listened (e.g. in the same read as the handshake's reply). */
  private early: QmpEvent[] = [];
  /** The greeting received on connect. */
  greeting?: QmpGreeting;
  /** True once the connection is gone. */
  closed = false;

  private constructor(private readonly sock: Socket, private readonly commandTimeoutMs: number) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', (e) => (this.closeError ??= e));
    sock.on('close', () => this.onClose());
  }

  /** Connect to a QMP socket, read the greeting and enter command mode (qmp_capabilities). */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await openSocket(path, Math.max(1, deadline - Date.now()));
        const client = new QmpClient(sock, opts.commandTimeoutMs ?? 30_000);
        try {
          await client.handshake(Math.max(1, deadline - Date.now()), path);
          return client;
        } catch (e) {
          client.close();
          throw e;
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const transient = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!opts.retry || !transient || Date.now() + 50 >= deadline) {
          if (e instanceof NimboError) throw e;
          throw new NimboError(code === 'ENOENT' ? 'NotFound' : 'Internal', `QMP connect ${path}: ${(e as Error).message}`, { path }, e);
        }
        await sleep(50);
      }
    }
  }

  private async handshake(timeoutMs: number, path: string): Promise<void> {
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(
        // QEMU serves one QMP client per socket: a missing greeting usually means another client holds it.
        () => reject(new NimboError('Timeout', `QMP ${path}: no greeting within ${timeoutMs} ms (socket busy?)`, { path })),
        timeoutMs,
      );
      this.greetingWaiter = (g) => {
        clearTimeout(timer);
        resolve(g);
      };
      this.once('close', (err) => {
        clearTimeout(timer);
        reject(new NimboError('Internal', `QMP ${path}: closed before greeting${err ? `: ${err.message}` : ''}`, { path }));
      });
    });
    this.greeting = greeting;
    await this.execute('qmp_capabilities', undefined, { timeoutMs });
  }

  /** Run a QMP command; resolves with its `return`, or throws QmpError with QEMU's class/desc. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError(command));
    const id = `nimbo-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id); // a late reply with this id is then ignored
        reject(new NimboError('Timeout', `QMP ${command}: no reply within ${timeoutMs} ms`, { command }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args !== undefined) msg.arguments = args;
      this.sock.write(JSON.stringify(msg) + '\n');
    });
  }

  /** Close the connection; pending commands are rejected. */
  close(): void {
    if (!this.closed) this.sock.destroy();
  }

  /** Resolves once the connection is closed (e.g. QEMU exited). */
  waitClosed(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.once('close', () => r()));
  }

  /** The events that arrived before the first 'event' listener, once. */
  takeEarlyEvents(): QmpEvent[] {
    const out = this.early;
    this.early = [];
    return out;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
    if (this.buf.length > 16 * 1024 * 1024) this.sock.destroy(new Error('QMP message too large'));
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not JSON: ignore rather than kill the connection
    }
    if ('QMP' in msg) {
      this.greetingWaiter?.(msg as unknown as QmpGreeting);
      this.greetingWaiter = undefined;
    } else if (typeof msg.event === 'string') {
      if (this.listenerCount('event') === 0 && this.early.length < 64) this.early.push(msg as unknown as QmpEvent);
      this.emit('event', msg as unknown as QmpEvent);
    } else if ('return' in msg || 'error' in msg) {
      const id = typeof msg.id === 'string' ? msg.id : undefined;
      const p = id === undefined ? undefined : this.pending.get(id);
      if (!p || id === undefined) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if ('error' in msg) {
        const err = (msg.error ?? {}) as { class?: string; desc?: string };
        p.reject(new QmpError(p.command, err.class ?? 'GenericError', err.desc ?? 'unknown error'));
      } else {
        p.resolve(msg.return);
      }
    }
  }

  private closedError(command: string): NimboError {
    const why = this.closeError ? `: ${this.closeError.message}` : '';
    return new NimboError('Conflict', `QMP ${command}: connection closed (QEMU exited?)${why}`, { command });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(this.closedError(p.command));
    }
    this.emit('close', this.closeError);
  }
}

function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new NimboError('Timeout', `QMP connect ${path}: timed out after ${timeoutMs} ms`, { path }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
