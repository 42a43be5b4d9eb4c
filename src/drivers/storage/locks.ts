// In-process locks keyed by string (pool path + volume name), shared by every driver handle of
// this process. Operations on different volumes of one pool run side by side; keys are taken in
// sorted order so two multi-volume operations never deadlock. Across processes the daemon is the
// only writer of a pool (documented); QEMU image locks guard volumes in use by a VM.

const tails = new Map<string, Promise<void>>();

async function acquire(key: string): Promise<() => void> {
  const prev = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  tails.set(key, tail);
  await prev;
  return () => {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  };
}

/** Run fn while holding every key (taken in sorted order, released in reverse). */
export async function withLocks<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const releases: (() => void)[] = [];
  try {
    for (const k of sorted) releases.push(await acquire(k));
    return await fn();
  } finally {
    for (const r of releases.reverse()) r();
  }
}
