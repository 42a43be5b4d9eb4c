import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../lib/log.js';
import { routeMetadata, type MetadataView, type TokenKey } from './metadata-router.js';

// nimbod's metadata listeners: one HTTP server per instance NIC, bound to the NIC's network gateway on
// the NIC's own port (the nft DNAT of 169.254.169.254:80 leads there). The port says which NIC asks;
// the peer address must be that NIC's allocated address (anti-spoofed per tap on the bridge), or the
// request gets a 403 and no data. Everything a guest sends is bounded: header size, URL length, no
// bodies, a few connections, a request rate, and timeouts; answers are written as they are made.

/** One NIC nimbod serves. */
export interface ServedNic {
  port: number;
  /** Where to listen: the NIC's network gateway. */
  gateway: string;
  /** The NIC's allocated address: the only peer answered on this port. */
  address: string;
  /** The instance UUID and the NIC's name. */
  owner: string;
  nic: string;
}

/** Limits on what one NIC may send. */
export const METADATA_LIMITS = {
  maxHeaderBytes: 8192,
  maxUrlBytes: 1024,
  maxConnections: 16,
  /** Token bucket per NIC: burst and refill per second. */
  burst: 40,
  perSecond: 20,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
};

interface Listener {
  nic: ServedNic;
  server: Server;
  bucket: { tokens: number; at: number };
  up: boolean;
}

const same = (a: ServedNic, b: ServedNic) => a.port === b.port && a.gateway === b.gateway && a.address === b.address && a.owner === b.owner && a.nic === b.nic;
const peerOf = (req: IncomingMessage) => (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');

/** The metadata listeners of one daemon. */
export class MetadataServer {
  private listeners = new Map<number, Listener>();
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private lookup: (owner: string, nic: string) => Promise<MetadataView | undefined>,
    private key: TokenKey,
    private log: Logger,
  ) {}

  /** Make the listeners exactly `nics`: open new ones, close those gone or changed. Bind failures are retried every 30 s. */
  async serve(nics: ServedNic[]): Promise<void> {
    const want = new Map(nics.map((n) => [n.port, n]));
    for (const [port, l] of this.listeners) {
      const w = want.get(port);
      if (!w || !same(w, l.nic)) await this.stop(port);
    }
    await Promise.all([...want.values()].filter((n) => !this.listeners.get(n.port)?.up).map((n) => this.start(n)));
    const failed = [...this.listeners.values()].some((l) => !l.up);
    if (failed && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        void this.serve([...this.listeners.values()].map((l) => l.nic)).catch(() => undefined);
      }, 30_000);
      this.retry.unref();
    }
  }

  /** The ports listening now. */
  listening(): number[] {
    return [...this.listeners.values()].filter((l) => l.up).map((l) => l.nic.port).sort((a, b) => a - b);
  }

  /** Close every listener. */
  async close(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    for (const port of [...this.listeners.keys()]) await this.stop(port);
  }

  private async stop(port: number): Promise<void> {
    const l = this.listeners.get(port);
    this.listeners.delete(port);
    if (!l) return;
    l.server.closeAllConnections();
    await new Promise<void>((resolve) => l.server.close(() => resolve()));
  }

  private async start(nic: ServedNic): Promise<void> {
    const old = this.listeners.get(nic.port);
    if (old) await this.stop(nic.port);
    const server = createServer({ maxHeaderSize: METADATA_LIMITS.maxHeaderBytes }, (req, res) => void this.handle(l, req, res));
    server.headersTimeout = METADATA_LIMITS.headersTimeoutMs;
    server.requestTimeout = METADATA_LIMITS.requestTimeoutMs;
    server.keepAliveTimeout = 5000;
    server.maxConnections = METADATA_LIMITS.maxConnections;
    const l: Listener = { nic, server, bucket: { tokens: METADATA_LIMITS.burst, at: Date.now() }, up: false };
    this.listeners.set(nic.port, l);
    await new Promise<void>((resolve) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        // The gateway address is missing (network not up yet) or the port is taken: tried again later.
        this.log.warn({ port: nic.port, gateway: nic.gateway, instance: nic.owner, nic: nic.nic, err: e.code ?? String(e) }, 'metadata listener could not bind');
        resolve();
      });
      server.listen({ host: nic.gateway, port: nic.port, exclusive: true }, () => {
        l.up = true;
        resolve();
      });
    });
  }

  /** True when the NIC may make one more request now (token bucket). */
  private take(l: Listener): boolean {
    const now = Date.now();
    const b = l.bucket;
    b.tokens = Math.min(METADATA_LIMITS.burst, b.tokens + ((now - b.at) / 1000) * METADATA_LIMITS.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private async handle(l: Listener, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      // Identity: the port this arrived on is l's; the peer must be l's NIC. Nothing the guest says counts.
      if (peerOf(req) !== l.nic.address || req.socket.localPort !== l.nic.port) return send(403, 'forbidden\n');
      if (!this.take(l)) return send(429, 'too many requests\n', undefined, { 'retry-after': '1' });
      const url = req.url ?? '/';
      if (Buffer.byteLength(url) > METADATA_LIMITS.maxUrlBytes) return send(414, 'URI too long\n');
      if (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0) {
        res.setHeader('connection', 'close');
        return send(413, 'the metadata service takes no request bodies\n');
      }
      const v = await this.lookup(l.nic.owner, l.nic.nic);
      if (!v) return send(404, 'not found\n');
      const path = url.split('?')[0]!.replace(/\/{2,}/g, '/');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, val]) => [k, Array.isArray(val) ? val[0] : val]));
      const a = routeMetadata({ method: req.method ?? 'GET', path, headers }, v, this.key);
      send(a.status, a.body, a.type, a.headers);
    } catch (e) {
      this.log.warn({ port: l.nic.port, err: String(e) }, 'metadata request failed');
      if (!res.headersSent) send(500, 'internal error\n');
      else res.destroy();
    }
  }
}
