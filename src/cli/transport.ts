/**
 * One HTTP(S) request to nimbod over node:http(s) with a keep-alive agent. Not the global fetch: on Node 20
 * its first call loads undici, which costs more than the rest of a `nimbo list` together.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';

/** What a request sends. */
export interface RequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Aborts the request and the reading of its body (a TimeoutError from AbortSignal.timeout is rethrown as is). */
  signal?: AbortSignal;
}

/** An answer whose body has not been read yet. */
export interface Answer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The body as it arrives (Buffer chunks); read it, or call `discard`. */
  body: IncomingMessage;
  /** The whole body (rejects with the signal's reason when the signal fires meanwhile). */
  buffer(): Promise<Buffer>;
  /** The whole body as UTF-8. */
  text(): Promise<string>;
}

/**
 * A keep-alive connection pool for one daemon and one TLS trust (so a socket made under other TLS options
 * is never reused). Idle sockets are unref'd by node's agent, so they never keep the process alive.
 */
export class Transport {
  private agent?: HttpAgent;

  /** Send one request; resolves once the status line and headers are in. */
  request(url: string, init: RequestInit, tls: ConnectionOptions = {}): Promise<Answer> {
    const https = url.startsWith('https:');
    this.agent ??= https ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
    return this.once(url, init, tls, https, true);
  }

  /** Close every pooled connection (the client is done). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private once(url: string, init: RequestInit, tls: ConnectionOptions, https: boolean, mayRetry: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const send = https ? httpsRequest : httpRequest;
      // TLS options on each request too: the agent keys its pool by them, and a pin is checked on every new socket.
      const req = send(url, { method: init.method, headers: init.headers, signal: init.signal, agent: this.agent, ...(https ? tls : {}) }, (res) => {
        resolve(answer(res, init.signal));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (init.signal?.aborted) return reject(init.signal.reason);
        // The daemon may close an idle kept-alive socket just as it is reused: a read-only request is sent again.
        if (mayRetry && req.reusedSocket && e.code === 'ECONNRESET' && (init.method === 'GET' || init.method === 'HEAD')) {
          this.once(url, init, tls, https, false).then(resolve, reject);
          return;
        }
        reject(e);
      });
      req.end(init.body);
    });
  }
}

function answer(res: IncomingMessage, signal?: AbortSignal): Answer {
  const buffer = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of res) chunks.push(c as Buffer);
    } catch (e) {
      throw signal?.aborted ? signal.reason : e;
    }
    return Buffer.concat(chunks);
  };
  return {
    status: res.statusCode ?? 502,
    statusText: res.statusMessage ?? '',
    headers: res.headers,
    body: res,
    buffer,
    text: async () => (await buffer()).toString('utf8'),
  };
}
