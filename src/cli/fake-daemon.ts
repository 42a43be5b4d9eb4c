/** Test helper: a small fake nimbod (node:http + ws) speaking the /api/v1 wire format. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { HostInfo, Image, Instance, Operation } from '../shared/api-types.js';

/** A request the fake daemon saw. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  auth?: string;
  body?: unknown;
}

/** A local port that nothing listens on (for "cannot reach" tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** An instance with sensible defaults, for tests. */
export function sampleInstance(over: Partial<Instance> = {}): Instance {
  return {
    id: '6f1c2a3e-0000-4000-8000-000000000001', name: 'vm1', type: 'vm', image: 'tiny', state: 'running', accelerator: 'kvm', cpus: 2,
    memory: 512 * 2 ** 20, disk: 10 * 2 ** 30, addresses: ['10.77.0.10', 'fd00::10'],
    nics: [{ name: 'eth0', network: 'default', mac: '52:54:00:00:00:01', address: '10.77.0.10', tap: 'nimbo-tap0' }],
    pid: 4242, description: '', autostart: 'last-state', createdAt: '2024-01-01T00:00:00.000Z', ...over,
  };
}

/** A fake daemon; operations advance 50% per wait call and end with `finalStatus`. */
export class FakeDaemon {
  readonly token = 'secret';
  readonly seen: SeenRequest[] = [];
  instances: Instance[] = [sampleInstance()];
  images: Image[] = [];
  ops = new Map<string, Operation>();
  finalStatus: 'success' | 'failure' = 'success';
  /** When set, DELETE of an instance without force is refused with 409 (as for a running one). */
  deleteConflict = false;
  host?: HostInfo;
  private server?: Server;
  private wss?: WebSocketServer;
  private n = 0;

  /** Base URL once started. */
  url = '';

  /** Listen on 127.0.0.1 on a free port (HTTPS when given a PEM certificate and key). */
  async start(tls?: { cert: string; key: string }): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = tls ? (createHttpsServer(tls, handler) as unknown as Server) : createServer(handler);
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const m = /^\/api\/v1\/instances\/([^/]+)\/console$/.exec(path);
      if (req.headers.authorization !== `Bearer ${this.token}` || !m || !this.instances.some((i) => i.name === m[1])) {
        const body = JSON.stringify({ error: { code: m ? 'NotFound' : 'Unauthorized', message: m ? `instance ${m[1]} not found` : 'bad token' } });
        socket.end(`HTTP/1.1 ${m ? 404 : 401} No\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        return;
      }
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        ws.send(Buffer.from('boot log tail\n'));
        ws.on('message', (data) => ws.send(Buffer.concat([Buffer.from('echo:'), data as Buffer])));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Close the server and every connection. */
  async stop(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }

  /** Start a fake operation. */
  newOp(kind: string, target: string): Operation {
    const now = new Date().toISOString();
    const op: Operation = { id: `op-${++this.n}`, kind, target, status: 'running', progress: 0, log: [], createdAt: now, updatedAt: now };
    this.ops.set(op.id, op);
    return op;
  }

  private advance(op: Operation): Operation {
    if (op.status !== 'running') return op;
    op.progress = Math.min(100, op.progress + 50);
    op.log.push(`step to ${op.progress}%`);
    if (op.progress >= 100) {
      op.status = this.finalStatus;
      if (op.status === 'failure') {
        op.progress = 50;
        op.error = { code: 'HostCommandFailed', message: 'qemu-img failed (exit 1): no space left on device' };
      }
    }
    return op;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const text = raw.toString();
    // An upload: what arrived, and what it declared.
    const octets = req.headers['content-type'] === 'application/octet-stream';
    const body = octets ? { bytes: raw.length, contentLength: req.headers['content-length'] } : text ? JSON.parse(text) : undefined;
    this.seen.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, auth: req.headers.authorization, body });
    const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(data));
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    const accepted = (op: Operation) => send(202, { operation: op }, { location: `/api/v1/operations/${op.id}` });
    const p = u.pathname.replace(/^\/api\/v1/, '');
    if (p === '/health') return send(200, { status: 'ok' });
    if (req.headers.authorization !== `Bearer ${this.token}`) return fail(401, 'Unauthorized', 'missing or invalid token');
    const seg = p.split('/').filter(Boolean).map(decodeURIComponent);
    const inst = seg[0] === 'instances' && seg[1] ? this.instances.find((i) => i.name === seg[1]) : undefined;
    const key = p === '/images/import' || p === '/images/upload' ? `POST ${p}` : `${req.method} /${seg[0] ?? ''}${seg.length > 1 ? '/:x' : ''}${seg.slice(2).map((s) => `/${s}`).join('')}`;
    switch (key) {
      case 'GET /host':
        return this.host ? send(200, this.host) : fail(500, 'Internal', 'no host info');
      case 'GET /version':
        return this.host ? send(200, { version: this.host.version, api: 'v1' }) : fail(500, 'Internal', 'no version');
      case 'GET /instances':
        return send(200, { instances: this.instances });
      case 'POST /instances':
        if (this.instances.some((i) => i.name === body.name)) return fail(409, 'Conflict', `instance ${body.name} already exists`);
        this.instances.push(sampleInstance({ name: body.name, image: body.image, state: body.start === false ? 'stopped' : 'running', ...(body.labels ? { labels: body.labels } : {}) }));
        return accepted(this.newOp('instance.create', body.name));
      case 'GET /instances/:x':
        return inst ? send(200, inst) : fail(404, 'NotFound', `instance ${seg[1]} not found`);
      case 'PATCH /instances/:x': {
        if (!inst) return fail(404, 'NotFound', `instance ${seg[1]} not found`);
        if (body.name !== undefined && body.name !== inst.name && this.instances.some((i) => i.name === body.name)) return fail(409, 'Conflict', `instance ${body.name} already exists`);
        if ((body.cpus !== undefined || body.memory !== undefined) && inst.state !== 'stopped') return fail(409, 'Conflict', `instance ${inst.name} is ${inst.state}: cpus and memory can be changed only while it is stopped`);
        Object.assign(inst, body, typeof body.memory === 'string' ? { memory: 2 ** 30 } : {});
        return send(200, inst);
      }
      case 'DELETE /instances/:x':
        if (inst && this.deleteConflict && u.searchParams.get('force') !== 'true') return fail(409, 'Conflict', `instance ${inst.name} is running: stop it first or delete with --force`);
        return inst ? accepted(this.newOp('instance.delete', seg[1]!)) : fail(404, 'NotFound', `instance ${seg[1]} not found`);
      case 'POST /instances/:x/start':
      case 'POST /instances/:x/stop':
      case 'POST /instances/:x/restart':
      case 'POST /instances/:x/pause':
      case 'POST /instances/:x/resume':
        return inst ? accepted(this.newOp(`instance.${seg[2] ?? 'delete'}`, seg[1]!)) : fail(404, 'NotFound', `instance ${seg[1]} not found`);
      case 'GET /instances/:x/console/log':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end(`last ${u.searchParams.get('bytes') ?? 'default'} bytes\n`);
      case 'POST /security-groups':
        if (body?.name === 'taken') return fail(409, 'Conflict', `security group ${body.name} already exists`);
        return send(201, { name: body.name, description: body.description ?? '', rules: [], attachedTo: [], createdAt: '2024-01-01T00:00:00.000Z' });
      case 'GET /images':
        return send(200, { images: this.images });
      case 'POST /images':
      case 'POST /images/import':
      case 'DELETE /images/:x':
        return accepted(this.newOp(`image.${seg[1] === 'import' ? 'import' : req.method === 'DELETE' ? 'delete' : 'build'}`, body?.name ?? seg[1]));
      case 'POST /images/upload':
        return accepted(this.newOp('image.build', u.searchParams.get('name') ?? ''));
      case 'GET /operations': {
        // Pages like the daemon: newest first, ?limit= (default 100), ?after= the previous page's next.
        const all = [...this.ops.values()].reverse();
        const limit = Number(u.searchParams.get('limit') ?? 100);
        const from = u.searchParams.has('after') ? Number(u.searchParams.get('after')) : 0;
        const page = all.slice(from, from + limit);
        return send(200, from + limit < all.length ? { operations: page, next: String(from + limit) } : { operations: page });
      }
      case 'GET /operations/:x':
      case 'GET /operations/:x/wait':
      case 'DELETE /operations/:x': {
        const op = this.ops.get(seg[1]!);
        if (!op) return fail(404, 'NotFound', `operation ${seg[1]} not found`);
        if (req.method === 'DELETE') op.status = 'cancelled';
        return send(200, seg[2] === 'wait' ? this.advance(op) : op);
      }
      default:
        return fail(404, 'NotFound', `no route ${req.method} ${u.pathname}`);
    }
  }
}
