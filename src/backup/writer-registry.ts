// In-process registry of running backups' chunks, so GC never sweeps a chunk a backup is about to reference.
// A writer claims a digest BEFORE it checks whether the chunk exists; GC checks the registry synchronously right
// before each unlink and marks the chunk as being deleted, so a writer that claims it then waits and rewrites it.

/** One running backup's claims; end() it after its snapshot is committed (or the backup failed). */
export class BackupWriter {
  readonly digests = new Set<string>();
  constructor(private readonly reg: WriterRegistry) {}

  /** Claim `digest` (call before checking the chunk); resolves once no GC is deleting that chunk. */
  async claim(digest: string): Promise<void> {
    this.digests.add(digest);
    const deleting = this.reg.deleting.get(digest);
    if (deleting) await deleting;
  }

  /** The backup is committed or abandoned: its claims go (kept until a running GC ends). */
  end(): void {
    this.reg.release(this);
  }
}

/** All running backups of this process (one per daemon, shared by every datastore). */
export class WriterRegistry {
  private readonly active = new Set<BackupWriter>();
  // Claims of writers that ended while a GC was running: that GC may have listed the snapshots before the commit.
  private readonly lingering = new Set<string>();
  private gcs = 0;
  /** Chunks a GC is unlinking now. */
  readonly deleting = new Map<string, Promise<void>>();

  /** Register a new backup. */
  begin(): BackupWriter {
    const w = new BackupWriter(this);
    this.active.add(w);
    return w;
  }

  /** @internal */
  release(w: BackupWriter): void {
    if (!this.active.delete(w)) return;
    if (this.gcs > 0) for (const d of w.digests) this.lingering.add(d);
  }

  /** Whether any running (or recently ended, during a GC) backup claimed `digest`. Synchronous on purpose. */
  has(digest: string): boolean {
    if (this.lingering.has(digest)) return true;
    for (const w of this.active) if (w.digests.has(digest)) return true;
    return false;
  }

  /** Number of running backups. */
  get running(): number {
    return this.active.size;
  }

  /** @internal GC bookkeeping: claims of writers that end during a GC are kept until the last GC ends. */
  gcBegin(): void {
    this.gcs++;
  }

  /** @internal */
  gcEnd(): void {
    if (--this.gcs === 0) this.lingering.clear();
  }
}
