/** fetch() for https URLs with the CLI's own TLS options (Node 20's global fetch cannot take a CA or a pin). */
import { request } from 'node:https';
import { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';

/** The parts of a fetch RequestInit the client uses. */
export interface HttpsInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** Send one request over https with `tls` options; resolves with a standard Response (body streamed). */
export function httpsFetch(url: string, init: HttpsInit, tls: ConnectionOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    // agent: false: one connection per request, so no socket made under other TLS options is ever reused.
    const req = request(url, { method: init.method, headers: init.headers, signal: init.signal, agent: false, ...tls }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
      }
      const status = res.statusCode ?? 502;
      const noBody = init.method === 'HEAD' || status === 204 || status === 205 || status === 304;
      if (noBody) res.resume();
      const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers }));
    });
    // Like fetch: a timeout rejects with the signal's reason (a TimeoutError), not a bare AbortError.
    req.on('error', (e) => reject(init.signal?.aborted ? init.signal.reason : e));
    req.end(init.body);
  });
}
