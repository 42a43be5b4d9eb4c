// The tail of a container's output log. The exit shim bounds it: past CONTAINER_LOG_MAX bytes
// it renames LOG to LOG.1 and starts a fresh LOG, so the last `bytes` may span both files.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** The last `bytes` bytes of file `path` (empty when it does not exist). */
function tailOf(path: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = statSync(path).size;
    const n = Math.max(0, Math.min(bytes, size));
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, size - n + got);
      if (r === 0) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The last `bytes` bytes of a shim-bounded log `path` (with the end of `path`.1 when `path` is shorter), as text. */
export function boundedLogTail(path: string, bytes: number): string {
  if (bytes <= 0) return '';
  const cur = tailOf(path, bytes);
  const older = cur.length < bytes ? tailOf(`${path}.1`, bytes - cur.length) : Buffer.alloc(0);
  return Buffer.concat([older, cur]).toString('utf8');
}
