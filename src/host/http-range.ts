// HTTP byte ranges (RFC 9110 §14): one range of a file to serve, and a Content-Range to check. Pure.

/** The byte range a `Range` header asks of a file of `size` bytes: inclusive bounds, 'unsatisfiable', or undefined for the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Several ranges, or another unit: the whole file (a server may ignore Range).
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

/** `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`), or undefined when it is not one. */
export function parseContentRange(header: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  const r = { start: Number(m[1]), end: Number(m[2]) };
  return m[3] === '*' ? r : { ...r, total: Number(m[3]) };
}

/** Whether an `If-Range` value lets a range be served: it must equal the current strong ETag or Last-Modified. */
export function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  return ifRange === etag || ifRange === lastModified;
}
