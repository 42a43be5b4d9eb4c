// The reconciler's queue: one pass per instance at a time (what arrives meanwhile is merged into the next
// pass), at most `concurrency` passes at once, and delayed passes (lock retries, restart backoff).
import type { Why } from './desired.js';
import type { Pending } from './ports.js';

const RANK: Record<Why, number> = { resync: 0, event: 1, 'daemon-start': 2, 'host-boot': 3 };

/** Merge two reasons to look at an instance: the stronger why, and the last exit event (it says whether the exit was requested). */
export function mergePending(a: Pending | undefined, b: Pending): Pending {
  if (!a) return b;
  const why = RANK[b.why] >= RANK[a.why] ? b.why : a.why;
  const event = b.event?.type === 'exited' || !a.event ? (b.event ?? a.event) : a.event;
  return { why, ...(event ? { event } : {}) };
}

interface Slot {
  pending?: Pending;
  running?: Promise<void>;
  timer?: NodeJS.Timeout;
  /** What the timer will enqueue (merged, so a later delay never drops an earlier exit event). */
  delayed?: Pending;
}

/** Passes keyed by instance uuid. */
export class PassQueue {
  private slots = new Map<string, Slot>();
  private active = 0;
  private waiting: (() => void)[] = [];
  private closed = false;

  constructor(
    private run: (uuid: string, p: Pending) => Promise<void>,
    private onError: (uuid: string, p: Pending, e: unknown) => void,
    private concurrency = 8,
  ) {}

  /** Look at `uuid` as soon as its current pass (if any) ends. */
  enqueue(uuid: string, p: Pending): void {
    if (this.closed) return;
    const slot = this.slot(uuid);
    slot.pending = mergePending(slot.pending, p);
    if (!slot.running) slot.running = this.drain(uuid, slot);
  }

  /** Look at `uuid` in `ms` (a pending delay is replaced; what it carried is kept). */
  later(uuid: string, ms: number, p: Pending): void {
    if (this.closed) return;
    const slot = this.slot(uuid);
    if (slot.timer) clearTimeout(slot.timer);
    slot.delayed = mergePending(slot.delayed, p);
    slot.timer = setTimeout(() => {
      const due = slot.delayed!;
      slot.timer = undefined;
      slot.delayed = undefined;
      this.enqueue(uuid, due);
    }, Math.max(0, ms));
    slot.timer.unref();
  }

  /** Forget a delayed pass of an instance that is gone. */
  drop(uuid: string): void {
    const slot = this.slots.get(uuid);
    if (slot?.timer) clearTimeout(slot.timer);
    if (slot && !slot.running) this.slots.delete(uuid);
  }

  /** Resolves once no pass is running or queued (delayed ones aside). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.slots.values()].map((s) => s.running).filter(Boolean);
      if (!running.length) return;
      await Promise.all(running);
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
  }

  private slot(uuid: string): Slot {
    let slot = this.slots.get(uuid);
    if (!slot) this.slots.set(uuid, (slot = {}));
    return slot;
  }

  private async drain(uuid: string, slot: Slot): Promise<void> {
    await Promise.resolve(); // events that arrive together merge into one pass
    while (slot.pending && !this.closed) {
      const p = slot.pending;
      slot.pending = undefined;
      await this.acquire();
      try {
        await this.run(uuid, p);
      } catch (e) {
        this.onError(uuid, p, e);
      } finally {
        // Hand the slot straight to the next waiter, so a newcomer cannot take it in between.
        const next = this.waiting.shift();
        if (next) next();
        else this.active--;
      }
    }
    slot.running = undefined;
    if (!slot.timer && !slot.pending) this.slots.delete(uuid);
  }

  private async acquire(): Promise<void> {
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((r) => this.waiting.push(r)); // handed over already counted
  }
}
