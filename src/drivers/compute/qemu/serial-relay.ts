import { closeSync, constants as fsc, fchmodSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { NimboError } from '../../../lib/errors.js';
import { runPaths } from './run-paths.js';

/** Options of SerialRelay. */
export interface SerialRelayOptions {
  /** QEMU's serial socket (RUNDIR/serial.sock); the relay is its one client. */
  socketPath: string;
  /** Bounded log of all guest output (RUNDIR/serial.log); the previous part is kept as .1. */
  logPath: string;
  /** Rotate the log past this size (default 1 MiB); at most twice this is kept on disk. */
  maxLogBytes?: number;
  /** First reconnect delay (default 200 ms), doubling up to 2 s while the socket is absent. */
  reconnectMs?: number;
}

type DataListener = (data: Buffer) => void;

/**
 * Relays a VM's serial console: keeps a bounded log, fans guest output out to subscribers,
 * sends keyboard input in, and reconnects while QEMU (re)creates the socket.
 */
export class SerialRelay {
  private sock?: Socket;
  private fd?: number;
  private size = 0;
  private closed = false;
  private started = false;
  private retryTimer?: NodeJS.Timeout;
  private delay: number;
  private readonly listeners = new Set<DataListener>();
  private readonly connectWaiters = new Set<() => void>();
  private readonly max: number;

  constructor(private readonly opts: SerialRelayOptions) {
    this.max = opts.maxLogBytes ?? 1024 * 1024;
    this.delay = opts.reconnectMs ?? 200;
  }

  /** A relay for the standard files of a VM's runtime dir. */
  static forRunDir(runDir: string, opts: Partial<SerialRelayOptions> = {}): SerialRelay {
    const p = runPaths(runDir);
    return new SerialRelay({ socketPath: p.serial, logPath: p.serialLog, ...opts });
  }

  /** Open the log and start connecting (idempotent); throws if the log cannot be opened. */
  start(): this {
    if (this.started || this.closed) return this;
    this.openLog();
    this.started = true;
    this.connect();
    return this;
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True while attached to QEMU's serial socket. */
  get connected(): boolean {
    return this.sock !== undefined && !this.sock.connecting && !this.sock.destroyed;
  }

  /** Resolves once attached (or at once if already attached). */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.connectWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connectWaiters.delete(done);
        reject(new NimboError('Timeout', `serial console ${this.opts.socketPath}: not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectWaiters.add(done);
    });
  }

  /** Subscribe to guest output; returns the unsubscribe function. */
  onData(cb: DataListener): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  /** Send keyboard input to the guest; throws Conflict when the console is not attached. */
  write(data: string | Buffer): void {
    if (!this.connected) throw new NimboError('Conflict', `serial console ${this.opts.socketPath} is not connected`);
    this.sock!.write(data);
  }

  /** The last `bytes` bytes of guest output from the log (up to 2x maxLogBytes). */
  tail(bytes = 64 * 1024): Buffer {
    return serialLogTail(this.opts.logPath, bytes);
  }

  /** Detach from the socket, stop reconnecting and close the log. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const s = this.sock;
    this.sock = undefined;
    if (s && !s.destroyed) await new Promise<void>((r) => s.once('close', () => r()).destroy());
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private connect(): void {
    if (this.closed) return;
    const sock = connect({ path: this.opts.socketPath });
    this.sock = sock;
    sock.on('connect', () => {
      this.delay = this.opts.reconnectMs ?? 200;
      for (const w of [...this.connectWaiters]) w();
    });
    sock.on('data', (d: Buffer) => this.onGuestData(d));
    sock.on('error', () => {}); // ENOENT/ECONNREFUSED while QEMU is not there: retried on close
    sock.on('close', () => {
      if (this.sock === sock) this.sock = undefined;
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 2000);
    });
  }

  private onGuestData(d: Buffer): void {
    // Viewers first, the log after: a keystroke's echo does not wait for the log's synchronous write.
    for (const cb of this.listeners) {
      try {
        cb(d);
      } catch {
        /* a failing subscriber must not break the relay */
      }
    }
    try {
      this.appendLog(d);
    } catch {
      this.fd = undefined; // the log broke (removed dir, full disk): keep relaying without it
    }
  }

  private openLog(): void {
    // O_NOFOLLOW: the dir may be writable by the unprivileged QEMU user; never follow its symlinks.
    this.fd = openSync(this.opts.logPath, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    fchmodSync(this.fd, 0o600); // guest output is the tenant's: root only (an older log may be 0640)
    const st = fstatSync(this.fd);
    if (!st.isFile()) throw new NimboError('Conflict', `${this.opts.logPath} is not a regular file`);
    this.size = st.size;
  }

  private appendLog(d: Buffer): void {
    if (this.fd === undefined) return;
    if (d.length > this.max) d = d.subarray(d.length - this.max);
    if (this.size + d.length > this.max) {
      closeSync(this.fd);
      this.fd = undefined;
      try {
        renameSync(this.opts.logPath, `${this.opts.logPath}.1`);
      } catch {
        /* log removed behind our back: start a fresh one */
      }
      this.openLog();
    }
    writeSync(this.fd!, d);
    this.size += d.length;
  }
}

/** The last `bytes` of a serial log, continued from its rotated part (LOG.1); empty when there is none. */
export function serialLogTail(logPath: string, bytes: number): Buffer {
  const cur = readTail(logPath, bytes);
  if (cur.length >= bytes) return cur;
  return Buffer.concat([readTail(`${logPath}.1`, bytes - cur.length), cur]);
}

function readTail(path: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const n = Math.max(0, Math.min(bytes, size));
    const buf = Buffer.alloc(n);
    let off = 0;
    while (off < n) {
      const got = readSync(fd, buf, off, n - off, size - n + off);
      if (got === 0) break;
      off += got;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Wait until guest output matches `re`; resolves with the matched text. Only output that
 * arrives after the call counts, unless `includeRecent` also scans the log's recent tail.
 */
export function waitForSerial(relay: SerialRelay, re: RegExp, timeoutMs: number, opts: { includeRecent?: boolean } = {}): Promise<string> {
  const pattern = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  const WINDOW = 64 * 1024;
  const decoder = new StringDecoder('utf8');
  let text = opts.includeRecent ? relay.tail(WINDOW).toString('utf8') : '';
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = pattern.exec(text);
      if (!m) {
        if (text.length > 2 * WINDOW) text = text.slice(-WINDOW);
        return false;
      }
      clearTimeout(timer);
      unsubscribe();
      resolve(m[0]);
      return true;
    };
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new NimboError('Timeout', `serial output did not match ${String(re)} within ${timeoutMs} ms`, { tail: text.slice(-2000) }));
    }, timeoutMs);
    const unsubscribe = relay.onData((d) => {
      text += decoder.write(d);
      check();
    });
    check();
  });
}
