/** ApiClient: typed calls to the nimbod REST API (/api/v1), with errors turned into one-line CliErrors. */
import type { GuestArch } from '../shared/arch-types.js';
import type {
  ActionName,
  ErrorBody,
  HostInfo,
  Image,
  ImageBuild,
  ImageImport,
  Instance,
  InstanceAction,
  InstanceCopy,
  InstancePatch,
  InstanceCreate,
  Operation,
} from '../shared/api-types.js';
import type { ImageImportUrl, ImageRemote, ImageRemoteAdd, ServedImage } from '../shared/image-fetch-types.js';
import type {
  Pool,
  PoolCreate,
  Snapshot,
  Volume,
  VolumeAttach,
  VolumeClone,
  VolumeCreate,
  VolumeExport,
  VolumeImport,
  VolumePatch,
} from '../shared/storage-types.js';
import type { VpsAction } from '../shared/vps-action-types.js';
import { CliError, EXIT, oneLine } from './errors.js';
import type { ApiSocket } from './socket.js';
import { Transport, type Answer } from './transport.js';
import type { TlsTrust } from './tls-trust.js';
import type { ConnectionOptions } from 'node:tls';
import type { Readable } from 'node:stream';

/** Options of an ApiClient. */
export interface ApiClientOptions {
  /** Shown when a call needs a token and none is set. */
  tokenProblem?: string;
  /** Per-request time limit in ms (long-poll waits add their own timeout). */
  timeoutMs?: number;
  /** How an https daemon's certificate is trusted (pin, CA file, or the system's CAs when empty). */
  tls?: TlsTrust;
  /** The project every request works in, sent as ?project= (--project, $NIMBO_PROJECT); none: the daemon's choice. */
  project?: string;
}

/** Options of one request. */
export interface RequestOpts {
  body?: unknown;
  /** Raw bytes sent as application/octet-stream instead of a JSON body. */
  raw?: Buffer;
  /** A stream of `length` bytes sent as application/octet-stream (an upload), read as it is sent. */
  stream?: { body: Readable; length: number };
  query?: Record<string, string | number | boolean | undefined>;
  auth?: boolean;
  timeoutMs?: number;
  /** Extra request headers (e.g. a login session's cookie and CSRF token). */
  headers?: Record<string, string>;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** The error code of a failed request (maybe in a cause, or the first of an AggregateError's errors). */
function causeCode(e: unknown): string | undefined {
  let c: unknown = e;
  for (let i = 0; i < 4 && c; i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (c as { errors?: unknown[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) return causeCode(errors[0]);
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A client of the nimbod REST API. */
export class ApiClient {
  readonly baseUrl: string;
  readonly token?: string;
  private readonly opts: ApiClientOptions;
  /** One keep-alive connection pool per client: an operation's polls reuse one connection. */
  private readonly transport = new Transport();
  /** tls-trust.js, once an https request has loaded it (a TLS error can only come after that). */
  private tlsTrust?: typeof import('./tls-trust.js');

  constructor(baseUrl: string, token?: string, opts: ApiClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    this.token = token;
    this.opts = opts;
  }

  /** The message for "nothing answered at baseUrl". */
  unreachableMessage(): string {
    return `cannot reach nimbod at ${this.baseUrl} (is it running? try: ./nimbo up)`;
  }

  /** Absolute URL of an API path (path starts with '/', relative to /api/v1). */
  url(path: string, query?: RequestOpts['query']): string {
    const u = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    if (this.opts.project !== undefined && !u.searchParams.has('project')) u.searchParams.set('project', this.opts.project);
    return u.toString();
  }

  /** TLS options for connections to the daemon (empty for http://). */
  async tlsOptions(): Promise<ConnectionOptions> {
    if (!this.baseUrl.startsWith('https:')) return {};
    // Loaded for https daemons only: node:tls and crypto are a good part of a plain-http CLI start.
    this.tlsTrust ??= await import('./tls-trust.js');
    return this.tlsTrust.tlsOptionsFor(this.baseUrl, this.opts.tls ?? {});
  }

  /** Authorization headers, or a CliError when a token is needed and missing. */
  authHeaders(auth = true): Record<string, string> {
    if (!auth) return {};
    if (!this.token) throw new CliError(this.opts.tokenProblem ?? 'no API token (set NIMBO_TOKEN or pass --token-file FILE)', { exitCode: EXIT.auth });
    return { authorization: `Bearer ${this.token}` };
  }

  /** Close the client's pooled connections (idle ones never hold the process open anyway). */
  close(): void {
    this.transport.close();
  }

  /** Turn a non-2xx answer into a CliError carrying the server's code and message. */
  private async errorFrom(res: Answer, sentToken: boolean): Promise<CliError> {
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let message = '';
    try {
      const body = JSON.parse(text) as Partial<ErrorBody>;
      code = body.error?.code;
      message = body.error?.message ?? '';
    } catch {
      message = text.slice(0, 200);
    }
    message = oneLine(message) || `HTTP ${res.status} ${res.statusText}`;
    if (res.status === 401 && sentToken && !/token/i.test(message)) message += ' (check NIMBO_TOKEN / --token-file / nimbo login)';
    return new CliError(message, { kind: 'api', code, status: res.status });
  }

  /** A failed request or body read as a one-line CliError (TLS trust, timeout, unreachable). */
  private transportError(e: unknown, timeoutMs: number): CliError {
    const tlsProblem = this.tlsTrust?.describeTlsError(e, this.baseUrl);
    if (tlsProblem) return new CliError(tlsProblem, { cause: e });
    if (e instanceof CliError) return e;
    if ((e as Error).name === 'TimeoutError') {
      return new CliError(`nimbod at ${this.baseUrl} did not answer within ${Math.round(timeoutMs / 1000)}s`, { kind: 'timeout', cause: e });
    }
    const code = causeCode(e);
    const detail = code ?? ((e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message);
    const msg = code && UNREACHABLE.has(code) ? this.unreachableMessage() : `cannot reach nimbod at ${this.baseUrl}: ${detail}`;
    return new CliError(msg, { kind: 'unreachable', cause: e });
  }

  /** Send a request and read the whole body of its 2xx answer (errors mapped like send's). */
  private async read(method: string, path: string, o: RequestOpts = {}): Promise<{ res: Answer; body: Buffer }> {
    const res = await this.send(method, path, o);
    try {
      return { res, body: await res.buffer() };
    } catch (e) {
      throw this.transportError(e, o.timeoutMs ?? this.opts.timeoutMs ?? 60_000);
    }
  }

  /** Send one request; returns the answer of a 2xx (body not read yet). */
  private async send(method: string, path: string, o: RequestOpts = {}): Promise<Answer> {
    // Without a token, a stopped daemon is the likelier story: say "cannot reach" rather than "no token".
    if ((o.auth ?? true) && !this.token) await this.health();
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers, ...this.authHeaders(o.auth ?? true) };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.raw !== undefined || o.stream) headers['content-type'] = 'application/octet-stream';
    if (o.stream) headers['content-length'] = String(o.stream.length);
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 60_000;
    let res: Answer;
    try {
      const init = {
        method,
        headers,
        body: o.stream ? o.stream.body : o.raw !== undefined ? o.raw : o.body === undefined ? undefined : JSON.stringify(o.body),
        timeoutMs,
      };
      const url = this.url(path, o.query);
      res = await this.transport.request(url, init, url.startsWith('https:') ? await this.tlsOptions() : {});
    } catch (e) {
      throw this.transportError(e, timeoutMs);
    }
    if (res.status < 200 || res.status > 299) throw await this.errorFrom(res, o.auth ?? true);
    return res;
  }

  /** Send a request and return the answer to read as a stream of Buffers (a 2xx; errors thrown like the others). */
  async response(method: string, path: string, o: RequestOpts = {}): Promise<Answer> {
    return this.send(method, path, o);
  }

  /** Send a request and return the answer's bytes. */
  async bytes(method: string, path: string, o: RequestOpts = {}): Promise<Buffer> {
    return (await this.read(method, path, o)).body;
  }

  /** Send a request and parse the JSON answer. */
  async json<T>(method: string, path: string, o: RequestOpts = {}): Promise<T> {
    const { res, body } = await this.read(method, path, o);
    const text = body.toString('utf8');
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new CliError(`nimbod sent an answer that is not JSON for ${method} ${path}`, { kind: 'api', status: res.status });
    }
  }

  /** Send a request that starts a long action (202) and return its Operation. */
  async operation(method: string, path: string, o: RequestOpts = {}): Promise<Operation> {
    const { res, body: raw } = await this.read(method, path, o);
    const text = raw.toString('utf8');
    let body: { operation?: Operation } & Partial<Operation> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      // Fall back to the Location header below.
    }
    if (body.operation) return body.operation;
    if (typeof body.id === 'string' && typeof body.status === 'string') return body as Operation;
    const loc = res.headers.location;
    const m = loc ? /\/operations\/([^/?#]+)/.exec(loc) : null;
    if (m?.[1]) return this.getOperation(decodeURIComponent(m[1]));
    throw new CliError(`nimbod answered ${method} ${path} without an operation`, { kind: 'api', status: res.status });
  }

  /** GET /health (no token needed). */
  health(): Promise<{ status: string }> {
    return this.json('GET', '/health', { auth: false, timeoutMs: 5000 });
  }
  /** GET /host. */
  host(): Promise<HostInfo> {
    return this.json('GET', '/host');
  }

  /** GET /version: the daemon's version (any signed-in caller). */
  async version(): Promise<{ version: string; api: string }> {
    return this.json('GET', '/version');
  }

  /** GET /instances. */
  listInstances(): Promise<Instance[]> {
    return this.listAll<Instance>('/instances', 'instances');
  }
  /** GET /instances/{name}. */
  getInstance(name: string): Promise<Instance> {
    return this.json('GET', `/instances/${enc(name)}`);
  }
  /** POST /instances → Operation. */
  createInstance(body: InstanceCreate): Promise<Operation> {
    return this.operation('POST', '/instances', { body });
  }
  /** DELETE /instances/{name}[?force=true] → Operation. */
  deleteInstance(name: string, force = false): Promise<Operation> {
    return this.operation('DELETE', `/instances/${enc(name)}`, { query: { force: force || undefined } });
  }
  /** POST /instances/{name}/{action} → Operation. */
  instanceAction(name: string, action: ActionName, body: InstanceAction = {}): Promise<Operation> {
    return this.operation('POST', `/instances/${enc(name)}/${action}`, { body });
  }
  /** POST /instances/{name}/actions (a VPS action) → its Operation. */
  vpsAction(name: string, body: VpsAction): Promise<Operation> {
    return this.operation('POST', `/instances/${enc(name)}/actions`, { body });
  }
  /** PATCH /instances/{name} (rename, description, labels, autostart; cpus/memory while stopped) → the updated Instance. */
  updateInstance(name: string, body: InstancePatch): Promise<Instance> {
    return this.json('PATCH', `/instances/${enc(name)}`, { body });
  }
  /** POST /instances/{name}/copy → Operation (the copy is a new instance). */
  copyInstance(source: string, body: InstanceCopy): Promise<Operation> {
    return this.operation('POST', `/instances/${enc(source)}/copy`, { body });
  }
  /** GET /instances/{name}/console/log[?bytes=N] → recent serial output. */
  async consoleLog(name: string, bytes?: number): Promise<string> {
    return (await this.read('GET', `/instances/${enc(name)}/console/log`, { query: { bytes } })).body.toString('utf8');
  }
  /** Open the console WebSocket of an instance (binary frames both ways). */
  async openConsole(name: string): Promise<ApiSocket> {
    return (await import('./socket.js')).openSocket(this, `/instances/${enc(name)}/console`);
  }

  /** WebSocket to a command on a pty in a container (closed with reason "exit N"). */
  async openExec(name: string, command: string[], size: { rows?: number; cols?: number } = {}): Promise<ApiSocket> {
    const q = new URLSearchParams(command.map((c) => ['cmd', c]));
    if (size.rows) q.set('rows', String(size.rows));
    if (size.cols) q.set('cols', String(size.cols));
    return (await import('./socket.js')).openSocket(this, `/instances/${enc(name)}/exec?${q.toString()}`);
  }

  /** GET /images. */
  listImages(): Promise<Image[]> {
    return this.listAll<Image>('/images', 'images');
  }
  /** POST /images (build a built-in image) → Operation. */
  buildImage(body: ImageBuild): Promise<Operation> {
    return this.operation('POST', '/images', { body });
  }
  /** POST /images/import (a file on the daemon's host, absolute path) → Operation. */
  importImage(body: ImageImport): Promise<Operation> {
    return this.operation('POST', '/images/import', { body });
  }
  /** POST /images/upload?name=: `length` bytes of a disk image from `body`, streamed (no time limit while it sends) → Operation. */
  uploadImage(name: string, body: Readable, length: number, arch?: GuestArch): Promise<Operation> {
    return this.operation('POST', '/images/upload', { query: { name, ...(arch ? { arch } : {}) }, stream: { body, length }, timeoutMs: 7 * 24 * 3600_000 });
  }
  /** DELETE /images/{name} → Operation. */
  deleteImage(name: string): Promise<Operation> {
    return this.operation('DELETE', `/images/${enc(name)}`);
  }
  /** DELETE /images/private/{name}: one of the project's private images → Operation. */
  deletePrivateImage(name: string): Promise<Operation> {
    return this.operation('DELETE', `/images/private/${enc(name)}`);
  }
  /** POST /instances/{name}/publish: a private image from a stopped VM → Operation. */
  publishImage(instance: string, image: string): Promise<Operation> {
    return this.operation('POST', `/instances/${enc(instance)}/publish`, { body: { image } });
  }
  /** POST /images/snapshot: a private template image from a running VM (memory + disk) → Operation. */
  snapshotImage(name: string, fromRunning: string): Promise<Operation> {
    return this.operation('POST', '/images/snapshot', { body: { name, fromRunning } });
  }
  /** GET /images/{name}: the project's private image of that name, else the public one. */
  getImage(name: string): Promise<Image> {
    return this.json('GET', `/images/${enc(name)}`);
  }
  /** POST /images/import-url: the daemon downloads a disk image (checked against a sha256) → Operation. */
  importImageUrl(body: ImageImportUrl): Promise<Operation> {
    return this.operation('POST', '/images/import-url', { body });
  }
  /** GET /image-remotes. */
  async listImageRemotes(): Promise<ImageRemote[]> {
    return (await this.json<{ remotes: ImageRemote[] }>('GET', '/image-remotes')).remotes;
  }
  /** POST /image-remotes. */
  addImageRemote(body: ImageRemoteAdd): Promise<ImageRemote> {
    return this.json('POST', '/image-remotes', { body });
  }
  /** DELETE /image-remotes/{name}. */
  async removeImageRemote(name: string): Promise<void> {
    await this.json('DELETE', `/image-remotes/${enc(name)}`);
  }
  /** GET /image-remotes/{name}/images: what the remote serves. */
  async listRemoteImages(remote: string): Promise<ServedImage[]> {
    return (await this.json<{ images: ServedImage[] }>('GET', `/image-remotes/${enc(remote)}/images`)).images;
  }
  /** POST /image-remotes/{name}/images/{image}/fetch: into the local cache as REMOTE:IMAGE → Operation. */
  fetchRemoteImage(remote: string, image: string): Promise<Operation> {
    return this.operation('POST', `/image-remotes/${enc(remote)}/images/${enc(image)}/fetch`);
  }

  /** GET /storage/pools. */
  listPools(): Promise<Pool[]> {
    return this.listAll<Pool>('/storage/pools', 'pools');
  }
  /** GET /storage/pools/{pool}. */
  getPool(pool: string): Promise<Pool> {
    return this.json('GET', `/storage/pools/${enc(pool)}`);
  }
  /** POST /storage/pools → Operation. */
  createPool(body: PoolCreate): Promise<Operation> {
    return this.operation('POST', '/storage/pools', { body });
  }
  /** DELETE /storage/pools/{pool} → Operation. */
  deletePool(pool: string): Promise<Operation> {
    return this.operation('DELETE', `/storage/pools/${enc(pool)}`);
  }
  /** GET /storage/pools/{pool}/volumes. */
  listVolumes(pool: string): Promise<Volume[]> {
    return this.listAll<Volume>(volumesPath(pool), 'volumes');
  }
  /** GET /storage/pools/{pool}/volumes/{volume}. */
  getVolume(pool: string, volume: string): Promise<Volume> {
    return this.json('GET', volumePath(pool, volume));
  }
  /** POST /storage/pools/{pool}/volumes → Operation. */
  createVolume(pool: string, body: VolumeCreate): Promise<Operation> {
    return this.operation('POST', volumesPath(pool), { body });
  }
  /** PATCH /storage/pools/{pool}/volumes/{volume} (grow, rename, I/O limits) → Operation. */
  patchVolume(pool: string, volume: string, body: VolumePatch): Promise<Operation> {
    return this.operation('PATCH', volumePath(pool, volume), { body });
  }
  /** DELETE /storage/pools/{pool}/volumes/{volume}[?force=true] → Operation. */
  deleteVolume(pool: string, volume: string, force = false): Promise<Operation> {
    return this.operation('DELETE', volumePath(pool, volume), { query: { force: force || undefined } });
  }
  /** POST /storage/pools/{pool}/volumes/{volume}/clone → Operation. */
  cloneVolume(pool: string, volume: string, body: VolumeClone): Promise<Operation> {
    return this.operation('POST', `${volumePath(pool, volume)}/clone`, { body });
  }
  /** POST /storage/pools/{pool}/import (a file on the daemon's host, absolute path) → Operation. */
  importVolume(pool: string, body: VolumeImport): Promise<Operation> {
    return this.operation('POST', `/storage/pools/${enc(pool)}/import`, { body });
  }
  /** POST /storage/pools/{pool}/volumes/{volume}/export (a new file on the daemon's host) → Operation. */
  exportVolume(pool: string, volume: string, body: VolumeExport): Promise<Operation> {
    return this.operation('POST', `${volumePath(pool, volume)}/export`, { body });
  }
  /** GET .../volumes/{volume}/snapshots. */
  listSnapshots(pool: string, volume: string): Promise<Snapshot[]> {
    return this.listAll<Snapshot>(`${volumePath(pool, volume)}/snapshots`, 'snapshots');
  }
  /** POST .../volumes/{volume}/snapshots → Operation. */
  createSnapshot(pool: string, volume: string, name: string): Promise<Operation> {
    return this.operation('POST', `${volumePath(pool, volume)}/snapshots`, { body: { name } });
  }
  /** POST .../volumes/{volume}/snapshots/{snapshot}/restore → Operation. */
  restoreSnapshot(pool: string, volume: string, snapshot: string): Promise<Operation> {
    return this.operation('POST', `${volumePath(pool, volume)}/snapshots/${enc(snapshot)}/restore`);
  }
  /** DELETE .../volumes/{volume}/snapshots/{snapshot} → Operation. */
  deleteSnapshot(pool: string, volume: string, snapshot: string): Promise<Operation> {
    return this.operation('DELETE', `${volumePath(pool, volume)}/snapshots/${enc(snapshot)}`);
  }
  /** POST /instances/{name}/volumes (hot-plugged when the instance runs) → Operation. */
  attachVolume(instance: string, body: VolumeAttach): Promise<Operation> {
    return this.operation('POST', `/instances/${enc(instance)}/volumes`, { body });
  }
  /** DELETE /instances/{name}/volumes/{pool}/{volume} → Operation. */
  detachVolume(instance: string, pool: string, volume: string): Promise<Operation> {
    return this.operation('DELETE', `/instances/${enc(instance)}/volumes/${enc(pool)}/${enc(volume)}`);
  }

  /** GET /operations: every page (or the newest `limit` operations), newest first. */
  listOperations(limit?: number): Promise<Operation[]> {
    return this.listAll<Operation>('/operations', 'operations', limit);
  }

  /** GET a paged list route: follows each page's `next` cursor until the end (or until `limit` items). */
  async listAll<T>(path: string, key: string, limit?: number, filter: Record<string, string> = {}): Promise<T[]> {
    const all: T[] = [];
    let after: string | undefined;
    do {
      const want = limit === undefined ? 1000 : Math.min(1000, limit - all.length);
      const page = await this.json<Record<string, unknown> & { next?: string }>('GET', path, { query: { ...filter, limit: want, after } });
      all.push(...((page[key] as T[] | undefined) ?? []));
      after = page.next;
    } while (after && (limit === undefined || all.length < limit));
    return all;
  }
  /** GET /operations/{id}. */
  getOperation(id: string): Promise<Operation> {
    return this.json('GET', `/operations/${enc(id)}`);
  }
  /** GET /operations/{id}/wait?timeout=S: returns when done or after S seconds. */
  waitOperation(id: string, timeoutS = 2): Promise<Operation> {
    return this.json('GET', `/operations/${enc(id)}/wait`, { query: { timeout: timeoutS }, timeoutMs: (timeoutS + 30) * 1000 });
  }
  /** DELETE /operations/{id}: cancel → Operation. */
  cancelOperation(id: string): Promise<Operation> {
    return this.json('DELETE', `/operations/${enc(id)}`);
  }
  /** Open the events WebSocket (one Event JSON per message). */
  async openEvents(): Promise<ApiSocket> {
    return (await import('./socket.js')).openSocket(this, '/events');
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function volumesPath(pool: string): string {
  return `/storage/pools/${enc(pool)}/volumes`;
}

function volumePath(pool: string, volume: string): string {
  return `${volumesPath(pool)}/${enc(volume)}`;
}
