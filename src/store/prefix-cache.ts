// The values under one prefix, read from the store once and then kept current by its watch: for host-wide
// views that are read on every change (the firewall renders its ruleset from every instance's NICs), so a
// change costs what changed, not a parse of every record.
import type { Store, WatchEvent } from './store.js';

/** A live copy of the key-values under a prefix. Callers must not change the values they get. */
export class PrefixCache<T> {
  private items?: Map<string, T>;
  private loading?: Promise<Map<string, T>>;
  /** Newest revision applied per key (deletes included), so a listed value never overwrites a newer event. */
  private revs = new Map<string, number>();

  constructor(private store: Store, private prefix: string) {}

  /** The current [key, value] pairs, in key order. */
  async entries(): Promise<[string, T][]> {
    const items = this.items ?? (await (this.loading ??= this.load()));
    return [...items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The current values, in key order. */
  async values(): Promise<T[]> {
    return (await this.entries()).map(([, v]) => v);
  }

  private async load(): Promise<Map<string, T>> {
    const items = new Map<string, T>();
    // Watch before listing: a change that lands while the list is read is kept if it is newer.
    this.store.watch(this.prefix, (ev) => this.apply(items, ev));
    for (const kv of await this.store.list<T>(this.prefix)) {
      if ((this.revs.get(kv.key) ?? 0) >= kv.modRevision) continue;
      this.revs.set(kv.key, kv.modRevision);
      items.set(kv.key, kv.value);
    }
    this.items = items;
    return items;
  }

  private apply(items: Map<string, T>, ev: WatchEvent): void {
    if ((this.revs.get(ev.key) ?? 0) > ev.revision) return;
    this.revs.set(ev.key, ev.revision);
    // A copy: the writer may go on changing the object it put.
    if (ev.type === 'put') items.set(ev.key, structuredClone(ev.value) as T);
    else items.delete(ev.key);
  }
}
