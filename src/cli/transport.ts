/**
 * One HTTP(S) request to nimbod over node:http(s) with a keep-alive agent. Not the global fetch: on Node 20
 * its first call loads undici, which costs more than the rest of a `nimbo list` together. node:https (and
 * with it TLS and crypto) is loaded only for https URLs, and the time limit is a plain timer, not an AbortSignal.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { Readable } from 'node:stream';

/** What a request sends. */
export interface RequestInit {
  method: string;
  headers: Record<string, string>;
  /** The body: bytes, or a stream piped as it is read (an upload; its Content-Length set by the caller). */
  body?: string | Uint8Array | Readable;
  /** Time limit of the whole exchange, body included; past it the request fails with an error named TimeoutError. */
  timeoutMs?: number;
}

/** An answer whose body has not been read yet. */
export interface Answer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The body as it arrives (Buffer chunks). */
  body: IncomingMessage;
  /** The whole body. */
  buffer(): Promise<Buffer>;
  /** The whole body as UTF-8. */
  text(): Promise<string>;
}

type Send = (url: string, options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest;

/**
 * A keep-alive connection pool for one daemon and one TLS trust (so a socket made under other TLS options
 * is never reused). Idle sockets are unref'd by node's agent, so they never keep the process alive.
 */
export class Transport {
  private agent?: HttpAgent;
  private send?: Send;

  /** Send one request; resolves once the status line and headers are in. */
  async request(url: string, init: RequestInit, tls: ConnectionOptions = {}): Promise<Answer> {
    const https = url.startsWith('https:');
    if (!this.agent || !this.send) {
      if (https) {
        const m = await import('node:https');
        this.agent = new m.Agent({ keepAlive: true, ...tls });
        this.send = m.request;
      } else {
        this.agent = new HttpAgent({ keepAlive: true });
        this.send = httpRequest;
      }
    }
    // TLS options on each request too: the agent keys its pool by them, and a pin is checked on every new socket.
    const options: RequestOptions = { method: init.method, headers: init.headers, agent: this.agent, ...(https ? tls : {}) };
    return this.once(this.send, url, options, init, true);
  }

  /** Close every pooled connection (the client is done). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private once(send: Send, url: string, options: RequestOptions, init: RequestInit, mayRetry: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      let res: IncomingMessage | undefined;
      const timer =
        init.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              const e = Object.assign(new Error(`no answer within ${init.timeoutMs} ms`), { name: 'TimeoutError' });
              req.destroy(e);
              res?.destroy(e);
            }, init.timeoutMs).unref();
      const req = send(url, options, (r) => {
        res = r;
        r.once('close', () => clearTimeout(timer));
        resolve(answer(r));
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // The daemon may close an idle kept-alive socket just as it is reused: a read-only request is sent again.
        if (mayRetry && req.reusedSocket && e.code === 'ECONNRESET' && (init.method === 'GET' || init.method === 'HEAD')) {
          this.once(send, url, options, init, false).then(resolve, reject);
          return;
        }
        reject(e);
      });
      if (init.body instanceof Readable) {
        // An upload: a refusal may come (and the daemon close) before all is sent; the answer says why.
        init.body.once('error', (e) => req.destroy(e));
        init.body.pipe(req);
      } else req.end(init.body);
    });
  }
}

function answer(res: IncomingMessage): Answer {
  const buffer = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
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
