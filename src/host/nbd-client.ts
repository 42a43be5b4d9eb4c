// A userspace NBD client over a unix socket (this kernel has no nbd module): the fixed newstyle
// handshake, structured replies, metadata contexts (base:allocation, qemu:dirty-bitmap:NAME), and
// pipelined READ / BLOCK_STATUS requests matched to their replies by cookie.
// Protocol: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
import { connect, type Socket } from 'node:net';
import { NimboError } from '../lib/errors.js';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;
const OPT = { ABORT: 2, GO: 7, STRUCTURED_REPLY: 8, SET_META_CONTEXT: 10 } as const;
const REP = { ACK: 1, INFO: 3, META_CONTEXT: 4 } as const;
const INFO_EXPORT = 0;
const INFO_BLOCK_SIZE = 3;
const CMD = { READ: 0, DISC: 2, BLOCK_STATUS: 7 } as const;
const REPLY_FLAG_DONE = 1;
const REPLY_TYPE = { NONE: 0, OFFSET_DATA: 1, OFFSET_HOLE: 2, BLOCK_STATUS: 5 } as const;
const REPLY_TYPE_ERROR_BIT = 0x8000;

/** NBD_STATE_* bits of the base:allocation context. */
export const NBD_STATE_HOLE = 1;
export const NBD_STATE_ZERO = 2;
/** The bit of a qemu:dirty-bitmap context that marks a dirty extent. */
export const NBD_STATE_DIRTY = 1;

const OPTION_ERRORS: Record<number, string> = {
  1: 'unsupported option', 2: 'forbidden by policy', 3: 'invalid', 4: 'unsupported on this platform', 5: 'TLS required',
  6: 'unknown export', 7: 'server shutting down', 8: 'block size required', 9: 'request too big',
};
const ERRNO: Record<number, string> = { 1: 'EPERM', 5: 'EIO', 12: 'ENOMEM', 22: 'EINVAL', 28: 'ENOSPC', 75: 'EOVERFLOW', 95: 'ENOTSUP', 108: 'ESHUTDOWN' };

/** One block-status descriptor of a metadata context. */
export interface NbdExtent {
  length: number;
  flags: number;
}

/** Options of NbdClient.connect. */
export interface NbdConnectOptions {
  /** The export to open (qemu-nbd's default export is ''). */
  exportName: string;
  /** Metadata contexts to negotiate (e.g. 'base:allocation', 'qemu:dirty-bitmap:NAME'); each must be granted. */
  metaContexts?: string[];
  /** Whole handshake deadline (default 10 s). */
  timeoutMs?: number;
}

/** An NBD protocol or server error, with the socket path. */
export class NbdError extends NimboError {
  constructor(path: string, message: string) {
    super('Internal', `NBD ${path}: ${message}`, { path });
  }
}

interface Pending {
  kind: 'read' | 'status' | 'disc';
  offset: number;
  length: number;
  buf?: Buffer;
  extents?: NbdExtent[];
  contextId?: number;
  error?: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Buffered reader of exact byte counts from a socket. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private have = 0;
  private waiter?: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private ended?: Error;

  push(b: Buffer): void {
    this.chunks.push(b);
    this.have += b.length;
    this.wake();
  }

  end(err: Error): void {
    this.ended ??= err;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.reject(this.ended);
    }
  }

  /** Exactly n bytes, once they arrived. */
  take(n: number): Promise<Buffer> {
    if (this.have >= n) return Promise.resolve(this.cut(n));
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  private wake(): void {
    const w = this.waiter;
    if (w && this.have >= w.n) {
      this.waiter = undefined;
      w.resolve(this.cut(w.n));
    }
  }

  private cut(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.have -= n;
    return out;
  }
}

/** A connected NBD export in the transmission phase. Requests may be issued concurrently (pipelined). */
export class NbdClient {
  /** Export size in bytes. */
  size = 0;
  /** Transmission flags from the server. */
  transmissionFlags = 0;
  /** Largest read the server accepts in one request. */
  maxPayload = 32 * 1024 * 1024;
  /** Context name -> id, for the contexts the server granted. */
  readonly contexts = new Map<string, number>();
  private structured = false;
  private readonly pending = new Map<number, Pending>();
  private nextCookie = 1;
  private failed?: Error;
  private closed = false;

  private constructor(private readonly sock: Socket, private readonly q: ByteQueue, private readonly path: string) {}

  /** Connect to the unix socket at `path`, negotiate and open the export. */
  static async connect(path: string, opts: NbdConnectOptions): Promise<NbdClient> {
    const q = new ByteQueue();
    const sock = connect({ path });
    sock.on('data', (d: Buffer) => q.push(d));
    sock.on('error', (e) => q.end(new NbdError(path, e.message)));
    sock.on('close', () => q.end(new NbdError(path, 'connection closed by the server')));
    const c = new NbdClient(sock, q, path);
    const timer = setTimeout(() => sock.destroy(new Error(`no handshake within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    try {
      await c.handshake(opts);
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    sock.on('close', () => c.fail(new NbdError(path, 'connection closed by the server')));
    sock.on('error', (e) => c.fail(new NbdError(path, e.message)));
    void c.replyLoop();
    return c;
  }

  /** Exactly `length` bytes at `offset` (holes read as zeros); split into requests the server accepts. */
  async read(offset: number, length: number): Promise<Buffer> {
    this.checkRange(offset, length);
    if (length <= this.maxPayload) return this.request<Buffer>({ kind: 'read', offset, length }, CMD.READ, 0);
    const parts: Promise<Buffer>[] = [];
    for (let at = 0; at < length; at += this.maxPayload) parts.push(this.read(offset + at, Math.min(this.maxPayload, length - at)));
    return Buffer.concat(await Promise.all(parts));
  }

  /** Descriptors of one granted context from `offset` on; they cover at least one byte and never past offset+length. */
  async blockStatus(offset: number, length: number, context: string): Promise<NbdExtent[]> {
    const id = this.contexts.get(context);
    if (id === undefined) throw new NbdError(this.path, `metadata context ${context} was not negotiated`);
    this.checkRange(offset, length);
    const all = await this.request<NbdExtent[]>({ kind: 'status', offset, length: Math.min(length, 0xffffffff - 0xfff), contextId: id }, CMD.BLOCK_STATUS, 0);
    // Clip to the request: a server may describe past its end.
    const out: NbdExtent[] = [];
    let at = offset;
    for (const e of all) {
      if (at >= offset + length) break;
      const len = Math.min(e.length, offset + length - at);
      out.push({ length: len, flags: e.flags });
      at += len;
    }
    if (out.length === 0) throw new NbdError(this.path, `block status of ${context} at ${offset} described nothing`);
    return out;
  }

  /** Polite disconnect (NBD_CMD_DISC), then close; pending requests fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.failed) {
      const hdr = requestHeader(CMD.DISC, 0, 0, 0, 0);
      await new Promise<void>((r) => this.sock.end(hdr, () => r()));
    }
    this.closed = true;
    this.fail(new NbdError(this.path, 'client closed'));
    this.sock.destroy();
  }

  private checkRange(offset: number, length: number): void {
    if (this.closed || this.failed) throw this.failed ?? new NbdError(this.path, 'client closed');
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > this.size) {
      throw new NbdError(this.path, `request [${offset}, +${length}) outside the export (size ${this.size})`);
    }
  }

  private request<T>(p: Omit<Pending, 'resolve' | 'reject'>, cmd: number, flags: number): Promise<T> {
    const cookie = this.nextCookie++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(cookie, { ...p, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(requestHeader(cmd, flags, cookie, p.offset, p.length));
    });
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
  }

  private async handshake(opts: NbdConnectOptions): Promise<void> {
    const hello = await this.q.take(18);
    if (hello.readBigUInt64BE(0) !== NBDMAGIC || hello.readBigUInt64BE(8) !== IHAVEOPT) throw this.err('not an NBD server speaking the newstyle protocol');
    const serverFlags = hello.readUInt16BE(16);
    if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw this.err('server does not speak fixed newstyle');
    const cflags = Buffer.alloc(4);
    cflags.writeUInt32BE(FLAG_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES));
    this.sock.write(cflags);

    const sr = await this.option(OPT.STRUCTURED_REPLY, Buffer.alloc(0));
    this.structured = sr.every((r) => r.type === REP.ACK);
    const wanted = opts.metaContexts ?? [];
    if (wanted.length > 0) {
      if (!this.structured) throw this.err('server refused structured replies, which metadata contexts need');
      const name = Buffer.from(opts.exportName, 'utf8');
      const parts = [u32(name.length), name, u32(wanted.length)];
      for (const w of wanted) {
        const b = Buffer.from(w, 'utf8');
        parts.push(u32(b.length), b);
      }
      for (const r of await this.option(OPT.SET_META_CONTEXT, Buffer.concat(parts), true)) {
        if (r.type === REP.META_CONTEXT) this.contexts.set(r.data.subarray(4).toString('utf8'), r.data.readUInt32BE(0));
      }
      const missing = wanted.filter((w) => !this.contexts.has(w));
      if (missing.length) throw this.err(`export ${JSON.stringify(opts.exportName)} has no metadata context ${missing.join(', ')}`);
    }
    const name = Buffer.from(opts.exportName, 'utf8');
    const go = Buffer.concat([u32(name.length), name, u16(1), u16(INFO_BLOCK_SIZE)]);
    let gotExport = false;
    for (const r of await this.option(OPT.GO, go, true)) {
      if (r.type !== REP.INFO || r.data.length < 2) continue;
      const info = r.data.readUInt16BE(0);
      if (info === INFO_EXPORT && r.data.length >= 12) {
        this.size = Number(r.data.readBigUInt64BE(2));
        this.transmissionFlags = r.data.readUInt16BE(10);
        gotExport = true;
      } else if (info === INFO_BLOCK_SIZE && r.data.length >= 14) {
        this.maxPayload = Math.min(this.maxPayload, r.data.readUInt32BE(10));
      }
    }
    if (!gotExport) throw this.err(`export ${JSON.stringify(opts.exportName)}: the server sent no size`);
  }

  /** Send one option; collect replies up to the final ACK (or the one reply for STRUCTURED_REPLY). Errors throw, except an unsupported STRUCTURED_REPLY. */
  private async option(opt: number, data: Buffer, multi = false): Promise<{ type: number; data: Buffer }[]> {
    this.sock.write(Buffer.concat([u64(IHAVEOPT), u32(opt), u32(data.length), data]));
    const out: { type: number; data: Buffer }[] = [];
    for (;;) {
      const h = await this.q.take(20);
      if (h.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw this.err('bad option reply magic');
      if (h.readUInt32BE(8) !== opt) throw this.err(`reply to option ${h.readUInt32BE(8)} while negotiating option ${opt}`);
      const type = h.readUInt32BE(12);
      const body = await this.q.take(h.readUInt32BE(16));
      if (type & 0x80000000) {
        const code = type & 0x7fffffff;
        if (opt === OPT.STRUCTURED_REPLY && code === 1) return [{ type, data: body }];
        const msg = body.length ? `: ${body.toString('utf8')}` : '';
        throw this.err(`option ${optName(opt)} refused (${OPTION_ERRORS[code] ?? `error ${code}`})${msg}`);
      }
      out.push({ type, data: body });
      if (type === REP.ACK || !multi) return out;
    }
  }

  /** Reads reply headers forever, routing each to its request by cookie. */
  private async replyLoop(): Promise<void> {
    try {
      for (;;) {
        const magic = (await this.q.take(4)).readUInt32BE(0);
        if (magic === SIMPLE_REPLY_MAGIC) await this.simpleReply();
        else if (magic === STRUCTURED_REPLY_MAGIC) await this.structuredChunk();
        else throw this.err(`bad reply magic 0x${magic.toString(16)}`);
      }
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      this.sock.destroy();
    }
  }

  private take(cookie: number): Pending {
    const p = this.pending.get(cookie);
    if (!p) throw this.err(`reply for unknown cookie ${cookie}`);
    return p;
  }

  private async simpleReply(): Promise<void> {
    const h = await this.q.take(12);
    const error = h.readUInt32BE(0);
    const cookie = Number(h.readBigUInt64BE(4));
    const p = this.take(cookie);
    this.pending.delete(cookie);
    if (error) return p.reject(this.err(`${p.kind} [${p.offset}, +${p.length}) failed: ${errnoName(error)}`));
    if (p.kind === 'read') {
      if (this.structured) throw this.err('simple reply with data to a read after structured replies were negotiated');
      p.resolve(await this.q.take(p.length));
    } else p.resolve(p.kind === 'status' ? [] : undefined);
  }

  private async structuredChunk(): Promise<void> {
    const h = await this.q.take(16);
    const flags = h.readUInt16BE(0);
    const type = h.readUInt16BE(2);
    const cookie = Number(h.readBigUInt64BE(4));
    const len = h.readUInt32BE(12);
    const p = this.take(cookie);
    const body = await this.q.take(len);
    if (type & REPLY_TYPE_ERROR_BIT) {
      const code = body.readUInt32BE(0);
      const mlen = body.readUInt16BE(4);
      const msg = body.subarray(6, 6 + mlen).toString('utf8');
      p.error ??= `${errnoName(code)}${msg ? ` (${msg})` : ''}`;
    } else if (type === REPLY_TYPE.OFFSET_DATA || type === REPLY_TYPE.OFFSET_HOLE) {
      if (p.kind !== 'read') throw this.err(`data chunk for a ${p.kind} request`);
      const at = Number(body.readBigUInt64BE(0)) - p.offset;
      const n = type === REPLY_TYPE.OFFSET_DATA ? len - 8 : body.readUInt32BE(8);
      if (at < 0 || at + n > p.length) throw this.err(`read chunk [${at + p.offset}, +${n}) outside the request [${p.offset}, +${p.length})`);
      // One data chunk for the whole request (the usual case): its bytes are the result, no copy.
      if (!p.buf && type === REPLY_TYPE.OFFSET_DATA && at === 0 && n === p.length) {
        p.buf = body.subarray(8);
      } else {
        p.buf ??= Buffer.alloc(p.length);
        if (type === REPLY_TYPE.OFFSET_DATA) body.copy(p.buf, at, 8);
        else p.buf.fill(0, at, at + n);
      }
    } else if (type === REPLY_TYPE.BLOCK_STATUS) {
      if (p.kind !== 'status') throw this.err(`block status chunk for a ${p.kind} request`);
      if (body.readUInt32BE(0) === p.contextId) {
        p.extents ??= [];
        for (let i = 4; i + 8 <= len; i += 8) p.extents.push({ length: body.readUInt32BE(i), flags: body.readUInt32BE(i + 4) });
      }
    } else if (type !== REPLY_TYPE.NONE) throw this.err(`unknown structured reply type ${type}`);
    if (!(flags & REPLY_FLAG_DONE)) return;
    this.pending.delete(cookie);
    if (p.error) return p.reject(this.err(`${p.kind} [${p.offset}, +${p.length}) failed: ${p.error}`));
    if (p.kind === 'read') p.resolve(p.buf ?? Buffer.alloc(p.length));
    else if (p.kind === 'status') {
      if (!p.extents?.length) return p.reject(this.err(`block status [${p.offset}, +${p.length}) returned no extents`));
      p.resolve(p.extents);
    } else p.resolve(undefined);
  }

  private err(msg: string): NbdError {
    return new NbdError(this.path, msg);
  }
}

function requestHeader(cmd: number, flags: number, cookie: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(cmd, 6);
  b.writeBigUInt64BE(BigInt(cookie), 8);
  b.writeBigUInt64BE(BigInt(offset), 16);
  b.writeUInt32BE(length, 24);
  return b;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const errnoName = (code: number): string => ERRNO[code] ?? `error ${code}`;
const optName = (opt: number): string => Object.entries(OPT).find(([, v]) => v === opt)?.[0] ?? String(opt);
