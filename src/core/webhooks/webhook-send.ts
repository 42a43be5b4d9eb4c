// One delivery attempt: POST the JSON body, signed, to the checked and pinned address.
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget } from './webhook-target.js';

/** `sha256=<hex HMAC-SHA256 of body under secret>`: the X-Nimbo-Signature header. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What one attempt gives: the receiver's status, or the error that stopped it. */
export type AttemptResult = { ok: boolean; status?: number; error?: string };

/** Options of one attempt. */
export interface SendOptions {
  allowInternal: boolean;
  timeoutMs: number;
  /** Extra headers (event type, delivery id). */
  headers: Record<string, string>;
  /** Unix seconds of the attempt (X-Nimbo-Timestamp). */
  timestamp: number;
}

/** POST `body` to `url`; 2xx is success. Redirects are not followed (they could lead anywhere). */
export async function sendOnce(url: string, secret: string, body: string, o: SendOptions): Promise<AttemptResult> {
  let addrs: { address: string; family: 4 | 6 }[];
  try {
    addrs = await resolveTarget(new URL(url), o.allowInternal);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const first = addrs[0]!;
  // Connect to the checked address only: a second DNS answer cannot move the connection.
  const pinned: LookupFunction = (_h, opts, cb) => {
    if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: typeof addrs) => void)(null, addrs);
    else cb(null, first.address, first.family);
  };
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
    method: 'POST',
    lookup: pinned,
    timeout: o.timeoutMs,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'nimbo-webhooks',
      'x-nimbo-timestamp': String(o.timestamp),
      'x-nimbo-signature': signature(secret, body),
      ...o.headers,
    },
  });
  return new Promise((resolve) => {
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, error: e.message.slice(0, 300) }));
    req.on('response', (res) => {
      res.resume(); // the answer's body is not needed
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` });
      });
      res.on('error', (e) => resolve({ ok: false, status: res.statusCode, error: e.message.slice(0, 300) }));
    });
    req.end(body);
  });
}
