/** Opening an authenticated WebSocket to nimbod, with HTTP errors turned into one-line CliErrors. */
import type WebSocket from 'ws';
import type { ErrorBody } from '../shared/api-types.js';
import type { ConnectionOptions } from 'node:tls';
import { CliError, oneLine } from './errors.js';
import { describeTlsError } from './tls-trust.js';

/** What openSocket needs from the client. */
export interface SocketTarget {
  url(path: string): string;
  authHeaders(auth?: boolean): Record<string, string>;
  unreachableMessage(): string;
  /** TLS options for wss:// (the pin or CA of the client); absent or empty for ws://. */
  tlsOptions?(): Promise<ConnectionOptions>;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET']);

/** A connection failure as a one-line CliError: TLS trust problems and unreachable daemons say so. */
function socketError(target: SocketTarget, path: string, e: NodeJS.ErrnoException): CliError {
  if (e instanceof CliError) return e;
  const tlsProblem = describeTlsError(e, target.url('').replace(/\/api\/v1\/?$/, ''));
  if (tlsProblem) return new CliError(tlsProblem, { cause: e });
  const code = e.code ?? (e as { errors?: NodeJS.ErrnoException[] }).errors?.[0]?.code;
  const unreachable = !!code && UNREACHABLE.has(code);
  return new CliError(unreachable ? target.unreachableMessage() : `WebSocket ${path}: ${e.message}`, { kind: unreachable ? 'unreachable' : 'api', cause: e });
}

/** An open API WebSocket; messages that arrive before `onMessage` is called are kept and replayed. */
export interface ApiSocket {
  ws: WebSocket;
  /** Receive messages (first the ones that came early, e.g. the console's log tail). */
  onMessage(listener: (data: WebSocket.RawData, isBinary: boolean) => void): void;
}

/** Open a WebSocket on an API path; resolves once open, rejects with the server's error message. */
export async function openSocket(target: SocketTarget, path: string): Promise<ApiSocket> {
  const url = target.url(path).replace(/^http/, 'ws');
  const headers = target.authHeaders(true);
  let tls: ConnectionOptions = {};
  try {
    tls = (await target.tlsOptions?.()) ?? {};
  } catch (e) {
    throw socketError(target, path, e as NodeJS.ErrnoException);
  }
  // Loaded here, not at startup: only console, exec -t and events need it.
  const { default: WebSocketImpl } = await import('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocketImpl(url, { headers, handshakeTimeout: 15_000, ...tls });
    // The server may send right after the handshake, in the same tick as 'open': keep those messages.
    const early: [WebSocket.RawData, boolean][] = [];
    const keep = (data: WebSocket.RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on('message', keep);
    const api: ApiSocket = {
      ws,
      onMessage(listener) {
        ws.removeListener('message', keep);
        for (const [data, isBinary] of early.splice(0)) listener(data, isBinary);
        ws.on('message', listener);
      },
    };
    let settled = false;
    const fail = (err: CliError) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      resolve(api);
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let message = '';
        let code: string | undefined;
        try {
          const body = JSON.parse(text) as Partial<ErrorBody>;
          message = body.error?.message ?? '';
          code = body.error?.code;
        } catch {
          message = text.slice(0, 200);
        }
        fail(new CliError(oneLine(message) || `HTTP ${res.statusCode} on ${path}`, { kind: 'api', code, status: res.statusCode }));
      });
      res.on('error', () => fail(new CliError(`HTTP ${res.statusCode} on ${path}`, { kind: 'api', status: res.statusCode })));
    });
    // Stays attached after open so a late error never goes unhandled; consumers add their own.
    ws.on('error', (e: NodeJS.ErrnoException) => fail(socketError(target, path, e)));
  });
}
