// Webhooks of a project: records in the store, deliveries of the project's events (HMAC-signed,
// retried with backoff) and a capped delivery log per webhook.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Store } from '../../store/store.js';
import { keys } from '../../store/keys.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../../lib/log.js';
import { NimboError, notFound } from '../../lib/errors.js';
import type { Event } from '../../shared/api-types.js';
import type { Delivery, Webhook, WebhookCreate } from '../../shared/trail-types.js';
import { parseWebhookUrl, resolveTarget } from './webhook-target.js';
import { sendOnce, type AttemptResult, type SendOptions } from './webhook-send.js';

/** A webhook as stored (with its secret). */
interface WebhookRecord extends Omit<Webhook, 'secret'> {
  secret: string;
}

/** Webhook settings of the daemon. */
export interface WebhookOptions {
  /** Allow loopback, private and link-local targets (off: SSRF guard; tests and closed networks turn it on). */
  allowInternalTargets: boolean;
  /** Waits before each retry, ms (default 1 s, 5 s, 30 s, 2 min, 10 min: 6 attempts in all). */
  retryDelaysMs: number[];
  /** Time limit of one attempt, ms (default 10 s). */
  timeoutMs: number;
  /** Deliveries kept per webhook, newest first (default 50). */
  logLength: number;
  /** The most webhooks per project (default 20). */
  maxPerProject: number;
}

/** Defaults of the webhook settings. */
export const WEBHOOK_DEFAULTS: WebhookOptions = {
  allowInternalTargets: false,
  retryDelaysMs: [1_000, 5_000, 30_000, 120_000, 600_000],
  timeoutMs: 10_000,
  logLength: 50,
  maxPerProject: 20,
};

/** Whether event type `type` matches one of `patterns` (exact, `prefix.*` or `*`). Pure. */
export function eventMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

const view = (r: WebhookRecord): Webhook => ({ id: r.id, project: r.project, url: r.url, events: r.events, description: r.description, createdAt: r.createdAt });

/** Creates, lists and deletes webhooks, and delivers events to them. */
export class WebhookService {
  private o: WebhookOptions;
  private unsubscribe?: () => void;
  private timers = new Set<NodeJS.Timeout>();
  /** Log writes of one webhook, one after another (read-modify-write of one record). */
  private chains = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private store: Store,
    private events: Pick<EventBus, 'subscribe'>,
    private log: Logger,
    opts: Partial<WebhookOptions> = {},
    private send: (url: string, secret: string, body: string, o: SendOptions) => Promise<AttemptResult> = sendOnce,
  ) {
    this.o = { ...WEBHOOK_DEFAULTS, ...opts };
  }

  /** Subscribe to the event bus; deliveries a previous daemon left pending are marked failed. */
  async start(): Promise<void> {
    for (const kv of await this.store.list<{ deliveries: Delivery[] }>('/webhook-deliveries/')) {
      if (!kv.value.deliveries.some((d) => d.status === 'pending')) continue;
      const deliveries = kv.value.deliveries.map((d) => (d.status === 'pending' ? { ...d, status: 'failed' as const, lastError: 'the daemon restarted before the delivery finished' } : d));
      await this.store.put(kv.key, { deliveries });
    }
    this.unsubscribe = this.events.subscribe((ev) => void this.onEvent(ev).catch((e) => this.log.warn({ err: e }, 'webhooks: could not dispatch an event')));
  }

  /** Stop delivering (pending retries are dropped; their log says so at the next start). */
  stop(): void {
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Create a webhook in `project`; the answer carries the secret, shown this once. */
  async create(project: string, req: WebhookCreate): Promise<Webhook> {
    const url = parseWebhookUrl(req.url);
    await resolveTarget(url, this.o.allowInternalTargets);
    if ((await this.store.list(keys.webhooks(project))).length >= this.o.maxPerProject) {
      throw new NimboError('QuotaExceeded', `project ${project} already has ${this.o.maxPerProject} webhooks, the most allowed`);
    }
    const rec: WebhookRecord = {
      id: randomUUID(),
      project,
      url: url.toString(),
      events: [...new Set(req.events ?? ['*'])],
      description: req.description ?? '',
      createdAt: new Date().toISOString(),
      secret: randomBytes(32).toString('base64url'),
    };
    await this.store.put(keys.webhook(project, rec.id), rec, { expectRevision: 0 });
    return { ...view(rec), secret: rec.secret };
  }

  /** The webhooks of `project` (without secrets), oldest first. */
  async list(project: string): Promise<Webhook[]> {
    return (await this.store.list<WebhookRecord>(keys.webhooks(project))).map((kv) => view(kv.value)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** One webhook of `project`. */
  async get(project: string, id: string): Promise<Webhook> {
    return view(await this.record(project, id));
  }

  /** Delete a webhook and its delivery log. */
  async delete(project: string, id: string): Promise<void> {
    await this.record(project, id);
    await this.store.txn([], [{ type: 'delete', key: keys.webhook(project, id) }, { type: 'delete', key: keys.webhookDeliveries(id) }]);
  }

  /** The delivery log of a webhook, newest first. */
  async deliveries(project: string, id: string): Promise<Delivery[]> {
    await this.record(project, id);
    return (await this.store.get<{ deliveries: Delivery[] }>(keys.webhookDeliveries(id)))?.value.deliveries ?? [];
  }

  /** Wait until every log write queued so far is done (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private async record(project: string, id: string): Promise<WebhookRecord> {
    const kv = await this.store.get<WebhookRecord>(keys.webhook(project, id));
    if (!kv) throw notFound(`webhook ${id} in project ${project}`);
    return kv.value;
  }

  /** Deliver `ev` to every webhook of its project that wants its type; platform events (no project) go nowhere. */
  private async onEvent(ev: Event): Promise<void> {
    if (!ev.project || this.closed) return;
    for (const kv of await this.store.list<WebhookRecord>(keys.webhooks(ev.project))) {
      const hook = kv.value;
      if (!eventMatches(hook.events, ev.type)) continue;
      const now = new Date().toISOString();
      const d: Delivery = { id: randomUUID(), event: ev.type, target: ev.target, status: 'pending', attempts: 0, createdAt: now, updatedAt: now };
      const body = JSON.stringify({ id: d.id, webhook: hook.id, type: ev.type, time: ev.time, project: ev.project, target: ev.target, data: ev.data });
      await this.logDelivery(hook.id, d);
      void this.attempt(hook, d, body);
    }
  }

  private async attempt(hook: WebhookRecord, d: Delivery, body: string): Promise<void> {
    // A webhook deleted while its delivery waited for a retry is not called again.
    if (this.closed || !(await this.store.get(keys.webhook(hook.project, hook.id)))) return;
    const r = await this.send(hook.url, hook.secret, body, {
      allowInternal: this.o.allowInternalTargets,
      timeoutMs: this.o.timeoutMs,
      timestamp: Math.floor(Date.now() / 1000),
      headers: { 'x-nimbo-event': d.event, 'x-nimbo-delivery': d.id },
    });
    d.attempts++;
    d.updatedAt = new Date().toISOString();
    if (r.status !== undefined) d.responseStatus = r.status;
    if (r.ok) {
      d.status = 'delivered';
      delete d.lastError;
    } else {
      d.lastError = r.error ?? 'failed';
      const wait = this.o.retryDelaysMs[d.attempts - 1];
      if (wait === undefined) d.status = 'failed';
      else if (!this.closed) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          void this.attempt(hook, d, body);
        }, wait);
        t.unref();
        this.timers.add(t);
      }
    }
    await this.logDelivery(hook.id, { ...d });
  }

  /** Put `d` at the head of the webhook's log (replacing its older state), keeping `logLength` entries. */
  private logDelivery(hookId: string, d: Delivery): Promise<void> {
    const prev = this.chains.get(hookId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const key = keys.webhookDeliveries(hookId);
      const cur = (await this.store.get<{ deliveries: Delivery[] }>(key))?.value.deliveries ?? [];
      const i = cur.findIndex((x) => x.id === d.id);
      const list = i >= 0 ? cur.map((x) => (x.id === d.id ? d : x)) : [d, ...cur];
      await this.store.put(key, { deliveries: list.slice(0, this.o.logLength) });
    }).catch((e) => this.log.warn({ err: e, webhook: hookId }, 'webhooks: could not write the delivery log'));
    this.chains.set(hookId, next);
    return next;
  }
}
