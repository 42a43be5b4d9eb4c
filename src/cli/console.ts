/** An attached console session: stdin → guest keystrokes, guest serial output → stdout, Ctrl-] detaches. */
import type WebSocket from 'ws';
import { CliError } from './errors.js';
import type { ApiSocket } from './socket.js';

/** The byte Ctrl-] sends; it detaches instead of reaching the guest. */
export const DETACH_BYTE = 0x1d;

/** The streams a console session uses. */
export interface ConsoleIO {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: NodeJS.WritableStream;
  /** Hints and notices (stderr). */
  notices: NodeJS.WritableStream;
  /** Raw mode and hints on a terminal; plain piping otherwise. */
  interactive: boolean;
  /** Instance name, for messages. */
  name: string;
  /** Piped input: after stdin ends, detach once the guest has been quiet this long (ms, default 1000). */
  quietAfterEofMs?: number;
  /** A command's session (exec -t): piped input's end is sent as this byte (Ctrl-D), then it waits for the command to end; no banners. */
  eofByte?: number;
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Run a console session on an open WebSocket; resolves on detach (undefined) or a normal close (the server's reason). */
export function runConsole(sock: ApiSocket, io: ConsoleIO): Promise<string | undefined> {
  const { ws } = sock;
  const { input, output, notices, interactive, name } = io;
  const raw = interactive && input.isTTY === true && typeof input.setRawMode === 'function';
  const quietMs = io.quietAfterEofMs ?? 1000;
  return new Promise((resolve, reject) => {
    let finished = false;
    let eof = false;
    let quietTimer: NodeJS.Timeout | undefined;

    const armQuiet = () => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => finish(), quietMs);
    };
    const finish = (err?: CliError, reason?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(quietTimer);
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      if (raw) input.setRawMode?.(false);
      input.pause();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        ws.close(1000, 'detached');
        // Do not linger if the server never answers the close handshake.
        const t = setTimeout(() => ws.terminate(), 1000);
        ws.once('close', () => clearTimeout(t));
      }
      if (err) reject(err);
      else resolve(reason);
    };
    const send = (buf: Buffer) => {
      if (buf.length > 0 && ws.readyState === ws.OPEN) ws.send(buf, { binary: true });
    };
    const onData = (chunk: Buffer | string) => {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      const i = buf.indexOf(DETACH_BYTE);
      if (i < 0) return send(buf);
      send(buf.subarray(0, i));
      if (interactive) notices.write(`\nnimbo: detached from ${name}\n`);
      finish();
    };
    const onEnd = () => {
      eof = true;
      if (io.eofByte !== undefined) send(Buffer.from([io.eofByte]));
      else if (interactive) finish();
      else armQuiet();
    };

    sock.onMessage((data) => {
      output.write(toBuffer(data));
      if (eof && io.eofByte === undefined) armQuiet();
    });
    ws.on('close', (code, reason) => {
      if (finished) return;
      const why = reason.toString() || `code ${code}`;
      if (interactive && io.eofByte === undefined) notices.write(`\nnimbo: console of ${name} closed (${why})\n`);
      if (code === 1000 || code === 1005) finish(undefined, reason.toString());
      else finish(new CliError(`console of ${name} closed: ${why}`, { kind: 'api' }));
    });
    ws.on('error', (e) => finish(new CliError(`console of ${name}: ${e.message}`, { kind: 'api', cause: e })));

    if (raw) input.setRawMode?.(true);
    if (interactive && io.eofByte === undefined) notices.write(`nimbo: connected to the console of ${name}; detach with Ctrl-]\n`);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
