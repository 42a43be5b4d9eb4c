/** The CLI's side of streamed transfers: exec output frames and file pulls, written out as they arrive. */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { FrameDecoder } from '../shared/exec-frames.js';
import type { ApiClient } from './client.js';
import { CliError } from './errors.js';

/** Write to a stream, waiting for it to drain when it is full (so a slow terminal or pipe slows the transfer, not memory). */
async function put(w: Writable, b: Buffer): Promise<void> {
  if (!w.write(b)) await once(w, 'drain');
}

/** Read an answer's body chunk by chunk. */
async function* chunks(res: { body: AsyncIterable<Uint8Array> }): AsyncGenerator<Buffer> {
  try {
    for await (const c of res.body) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  } catch (e) {
    throw new CliError(`the transfer broke off: ${(e as Error).message}${(e as Error).cause ? ` (${String((e as Error).cause)})` : ''}`);
  }
}

/** POST /instances/{name}/exec?stream=1: stdout and stderr passed on as they come; resolves with the exit code. */
export async function streamExec(client: ApiClient, name: string, body: { command: string[]; input?: string; timeout?: number }, out: Writable, err: Writable): Promise<number> {
  const res = await client.response('POST', `/instances/${encodeURIComponent(name)}/exec`, { body, query: { stream: 1 }, timeoutMs: ((body.timeout ?? 60) + 120) * 1000 });
  let code: number | undefined;
  const pending: Buffer[][] = [[], []];
  const dec = new FrameDecoder({ stdout: (b) => pending[0]!.push(Buffer.from(b)), stderr: (b) => pending[1]!.push(Buffer.from(b)), exit: (c) => (code = c) });
  for await (const c of chunks(res)) {
    dec.push(c);
    for (const b of pending[0]!.splice(0)) await put(out, b);
    for (const b of pending[1]!.splice(0)) await put(err, b);
  }
  if (code === undefined) throw new CliError(`the exec stream of ${name} ended without an exit code`);
  return code;
}

/** GET /instances/{name}/files: the file written to `local` (through a temporary file, renamed at the end) or to stdout for '-'. */
export async function pullFile(client: ApiClient, name: string, path: string, local: string): Promise<number> {
  return download(client, `/instances/${encodeURIComponent(name)}/files`, { path }, local);
}

/** Stream the bytes of GET `apiPath` into `local` (written as local.nimbo-part, renamed when complete) or stdout ('-'); returns the byte count. */
export async function download(client: ApiClient, apiPath: string, query: Record<string, string>, local: string): Promise<number> {
  const res = await client.response('GET', apiPath, { query, timeoutMs: 3700_000 });
  const tmp = `${local}.nimbo-part`;
  const w = local === '-' ? process.stdout : createWriteStream(tmp, { mode: 0o644 });
  let n = 0;
  try {
    for await (const c of chunks(res)) {
      n += c.length;
      await put(w, c);
    }
    if (local !== '-') {
      w.end();
      await once(w, 'finish');
      renameSync(tmp, local);
    }
  } catch (e) {
    if (local !== '-') {
      w.destroy();
      rmSync(tmp, { force: true });
    }
    throw e;
  }
  return n;
}
