import { openSync, readSync, fstatSync, closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';

/** A live serial console: guest output to subscribers and a bounded log, keystrokes to the guest. */
export interface ConsoleRelay {
  onData(cb: (chunk: Buffer) => void): () => void;
  write(data: Buffer | string): void;
  tail(bytes: number): Buffer;
  close(): void;
}

/** Keeps one serial relay per running instance (the daemon is the console's only client of QEMU). */
export class ConsoleManager {
  private relays = new Map<string, ConsoleRelay>();

  constructor(
    private log: Logger,
    private makeRelay: (runDir: string) => ConsoleRelay,
    private runDirOf: (name: string) => string,
  ) {}

  /** Attach to an instance's serial socket (no-op when attached already). */
  attach(name: string, runDir: string): void {
    if (this.relays.has(name)) return;
    this.relays.set(name, this.makeRelay(runDir));
    this.log.debug({ instance: name }, 'console attached');
  }

  /** Stop relaying an instance's console. */
  detach(name: string): void {
    this.relays.get(name)?.close();
    this.relays.delete(name);
  }

  get(name: string): ConsoleRelay | undefined {
    return this.relays.get(name);
  }

  /** The last `bytes` of the instance's console log (also after it stopped). */
  logTail(name: string, bytes: number): string {
    const relay = this.relays.get(name);
    if (relay) return relay.tail(bytes).toString('utf8');
    // The log is rotated by rename: the rest of the tail is at the end of LOG.1.
    const log = join(this.runDirOf(name), 'serial.log');
    const cur = readTail(log, bytes);
    return (cur.length < bytes ? Buffer.concat([readTail(`${log}.1`, bytes - cur.length), cur]) : cur).toString('utf8');
  }

  closeAll(): void {
    for (const name of [...this.relays.keys()]) this.detach(name);
  }
}

/** Read the last `bytes` of a file ('' when absent). */
export function readTail(file: string, bytes: number): Buffer {
  if (!existsSync(file)) return Buffer.alloc(0);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(bytes, size);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf;
  } finally {
    closeSync(fd);
  }
}
