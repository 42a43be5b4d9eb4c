// A BlockReader over an NBD export (a fleecing export of a running VM, or qemu-nbd on a stopped
// VM's image): extents from base:allocation, `dirty` from a qemu:dirty-bitmap context when incremental.
import { NBD_STATE_DIRTY, NBD_STATE_ZERO, NbdClient, type NbdExtent } from '../../../host/nbd-client.js';
import type { BlockExtent, BlockReader } from '../../../shared/backup-source.js';

const ALLOCATION = 'base:allocation';

/** Where to find the export, and the bitmap context that makes it incremental (absent: a full read, every extent dirty). */
export interface NbdReaderOptions {
  socket: string;
  exportName: string;
  /** The dirty-bitmap context as the server names it (qemu:dirty-bitmap:NAME). */
  bitmapContext?: string;
}

/** Open a BlockReader on the export (one connection; requests pipeline over it). */
export async function openNbdBlockReader(o: NbdReaderOptions): Promise<BlockReader> {
  const contexts = o.bitmapContext ? [ALLOCATION, o.bitmapContext] : [ALLOCATION];
  const c = await NbdClient.connect(o.socket, { exportName: o.exportName, metaContexts: contexts });
  return new NbdBlockReader(c, o.bitmapContext);
}

/** The merged runs of an allocation and an optional dirty-bitmap descriptor list over the same start, up to the shorter one's end. */
export function mergeExtents(offset: number, alloc: NbdExtent[], dirty: NbdExtent[] | undefined): BlockExtent[] {
  const out: BlockExtent[] = [];
  let ai = 0;
  let di = 0;
  let aLeft = alloc[0]?.length ?? 0;
  let dLeft = dirty ? dirty[0]?.length ?? 0 : Infinity;
  let at = offset;
  while (ai < alloc.length && (!dirty || di < dirty.length)) {
    const n = Math.min(aLeft, dLeft);
    // Only NBD_STATE_ZERO promises zeros; a HOLE alone may read as anything.
    const zero = (alloc[ai]!.flags & NBD_STATE_ZERO) !== 0;
    const isDirty = dirty ? (dirty[di]!.flags & NBD_STATE_DIRTY) !== 0 : true;
    const last = out[out.length - 1];
    if (last && last.zero === zero && last.dirty === isDirty) last.length += n;
    else if (n > 0) out.push({ offset: at, length: n, zero, dirty: isDirty });
    at += n;
    aLeft -= n;
    dLeft -= n;
    if (aLeft === 0 && ++ai < alloc.length) aLeft = alloc[ai]!.length;
    if (dirty && dLeft === 0 && ++di < dirty.length) dLeft = dirty[di]!.length;
  }
  return out;
}

class NbdBlockReader implements BlockReader {
  bytesRead = 0;
  private closed = false;

  constructor(private readonly c: NbdClient, private readonly bitmapContext: string | undefined) {}

  get size(): number {
    return this.c.size;
  }

  async extents(offset: number, length: number): Promise<BlockExtent[]> {
    const end = offset + length;
    const out: BlockExtent[] = [];
    for (let at = offset; at < end;) {
      const [alloc, dirty] = await Promise.all([
        this.c.blockStatus(at, end - at, ALLOCATION),
        this.bitmapContext ? this.c.blockStatus(at, end - at, this.bitmapContext) : undefined,
      ]);
      const part = mergeExtents(at, alloc, dirty);
      for (const e of part) {
        const last = out[out.length - 1];
        if (last && last.zero === e.zero && last.dirty === e.dirty) last.length += e.length;
        else out.push(e);
        at += e.length;
      }
    }
    return out;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const b = await this.c.read(offset, length);
    this.bytesRead += length;
    return b;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.c.close();
  }
}
