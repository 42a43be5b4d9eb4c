// The values under one prefix, read from the store once and then kept current by its watch: for host-wide
// views that are read on every change (the firewall renders its ruleset from every instance's NICs), so a
// change costs what changed, not a parse of every record.
import type { Store, WatchEvent } from './store.js';

/** A live copy of the values under a prefix, each as `view(key, value)` made it. Callers must not change them. */
export class PrefixCache<T, V = T> {
  private items?: Map<string, V>;
  private loading?: Promise<Map<string, V>>;
  /** The values in key order, kept until the next change. */
  private ordered?: V[];
  /** Newest revision applied per key (deletes included), so a listed value never overwrites a newer event. */
  private revs = new Map<string, number>();

  constructor(
    private store: Store,
    private prefix: string,
    private view: (key: string, value: T) => V = (_k, v) => v as unknown as V,
  ) {}

  /** The current values, in key order. */
  async values(): Promise<V[]> {
    const items = this.items ?? (await (this.loading ??= this.load()));
    this.ordered ??= [...items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    return this.ordered;
  }

  private async load(): Promise<Map<string, V>> {
    const items = new Map<string, V>();
    // Watch before listing: a change that lands while the list is read is kept if it is newer.
    this.store.watch(this.prefix, (ev) => this.apply(items, ev));
    for (const kv of await this.store.list<T>(this.prefix)) {
      if ((this.revs.get(kv.key) ?? 0) >= kv.modRevision) continue;
      this.revs.set(kv.key, kv.modRevision);
      items.set(kv.key, this.view(kv.key, kv.value));
    }
    this.items = items;
    this.ordered = undefined;
    return items;
  }

  private apply(items: Map<string, V>, ev: WatchEvent): void {
    if ((this.revs.get(ev.key) ?? 0) > ev.revision) return;
    this.revs.set(ev.key, ev.revision);
    this.ordered = undefined;
    // A copy: the writer may go on changing the object it put.
    if (ev.type === 'put') items.set(ev.key, this.view(ev.key, structuredClone(ev.value) as T));
    else items.delete(ev.key);
  }
}
