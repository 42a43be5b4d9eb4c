/*
 * The stream of POST /instances/{name}/exec?stream=1 (application/vnd.nimbo.exec-stream):
 * frames of [1 byte kind][4 bytes big-endian length][payload]. Kinds: 1 stdout bytes, 2 stderr
 * bytes, 3 the end (payload: the exit code as text). Output is unbounded; the daemon reads the
 * command only as fast as the client reads the stream.
 */

/** Frame kinds of the exec stream. */
export const FRAME = { stdout: 1, stderr: 2, exit: 3 } as const;
/** Media type of the exec stream. */
export const EXEC_STREAM_TYPE = 'application/vnd.nimbo.exec-stream';

/** The 5-byte head of a frame of `length` bytes. */
export function frameHead(kind: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = kind;
  head.writeUInt32BE(length, 1);
  return head;
}

/** One frame's bytes. */
export function encodeFrame(kind: number, payload: Buffer): Buffer {
  return Buffer.concat([frameHead(kind, payload.length), payload]);
}

/** What a decoder hands on. */
export interface FrameSink {
  stdout(data: Buffer): void;
  stderr(data: Buffer): void;
  exit(code: number): void;
}

/** Most bytes one frame may carry (a decoder refuses more: a broken or hostile stream cannot make it buffer without end). */
export const FRAME_MAX = 4 * 1024 * 1024;

/** Incremental decoder: feed it chunks as they arrive; it holds at most one partial frame. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  ended = false;

  constructor(private readonly sink: FrameSink) {}

  /** Take the next chunk of the stream. */
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const kind = this.buf[0]!;
      const len = this.buf.readUInt32BE(1);
      if (len > FRAME_MAX || kind < 1 || kind > 3) throw new Error(`exec stream: bad frame (kind ${kind}, ${len} bytes)`);
      if (this.buf.length < 5 + len) return;
      const payload = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      if (kind === FRAME.stdout) this.sink.stdout(payload);
      else if (kind === FRAME.stderr) this.sink.stderr(payload);
      else {
        this.ended = true;
        this.sink.exit(Number(payload.toString('utf8')));
      }
    }
  }
}
