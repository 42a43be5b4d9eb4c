// Progress of an upload on stderr: on a terminal one line rewritten in place, elsewhere a line per 10 %.
import { Transform } from 'node:stream';
import { formatSize } from '../lib/validate.js';

/** Where progress goes (process.stderr; a fake in tests). */
export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** A pass-through that reports how much of `total` bytes went through it, at most every `everyMs`. */
export function uploadProgress(total: number, sink: ProgressSink, everyMs = 250, now: () => number = Date.now): Transform {
  let sent = 0;
  let lastAt = 0;
  let lastTenth = -1;
  const line = () => `uploading: ${total ? Math.floor((sent / total) * 100) : 100}% (${formatSize(sent)} of ${formatSize(total)})`;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      if (sink.isTTY) {
        if (now() - lastAt >= everyMs || sent === total) {
          lastAt = now();
          sink.write(`\r${line()}\x1b[K${sent === total ? '\n' : ''}`);
        }
      } else {
        const tenth = total ? Math.floor((sent / total) * 10) : 10;
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          sink.write(`${line()}\n`);
        }
      }
      done(null, chunk);
    },
  });
}
