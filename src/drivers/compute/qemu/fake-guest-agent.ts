// A fake qemu-ga on a unix socket, for unit tests of the guest agent client (never product code).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The answer to one command: a return value, an error, or nothing at all (no reply). */
export type FakeAnswer = { return: unknown } | { error: { class: string; desc: string } } | 'silent' | { raw: Buffer };

/** A fake agent: its socket path, the commands it saw, and a way to stop it. */
export interface FakeAgent {
  path: string;
  seen: { execute: string; arguments?: Record<string, unknown> }[];
  /** Most sessions between their sync and their command's reply at the same time. */
  maxConcurrent: number;
  done: () => void;
}

/**
 * Serve `answer` for every command but guest-sync-delimited (answered as qemu-ga does: 0xFF then
 * the id). A 0xFF from the client resets the parser, like the real agent. `onConnect` may write
 * stale bytes first; `sync: false` makes the agent ignore sync (no agent running in the guest).
 */
export async function fakeGuestAgent(
  answer: (execute: string, args: Record<string, unknown> | undefined) => FakeAnswer,
  opts: { onConnect?: (sock: Socket) => void; sync?: boolean; echoId?: boolean } = {},
): Promise<FakeAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-qga-'));
  const path = join(dir, 'qga.sock');
  const seen: FakeAgent['seen'] = [];
  const socks = new Set<Socket>();
  const agent: FakeAgent = { path, seen, maxConcurrent: 0, done: () => {} };
  let open = 0;
  const server: Server = createServer((sock) => {
    socks.add(sock);
    let inSession = false;
    const end = () => {
      if (inSession) open--;
      inSession = false;
    };
    sock.on('close', end);
    sock.on('error', () => {});
    opts.onConnect?.(sock);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const ff = buf.lastIndexOf(0xff);
      if (ff >= 0) buf = buf.subarray(ff + 1); // the parser reset
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        const msg = JSON.parse(buf.subarray(0, nl).toString()) as { execute: string; id?: unknown; arguments?: Record<string, unknown> };
        buf = buf.subarray(nl + 1);
        seen.push({ execute: msg.execute, ...(msg.arguments ? { arguments: msg.arguments } : {}) });
        if (msg.execute === 'guest-sync-delimited') {
          if (!inSession) {
            inSession = true;
            agent.maxConcurrent = Math.max(agent.maxConcurrent, ++open);
          }
          if (opts.sync !== false) sock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ return: msg.arguments?.id }) + '\n')]));
          continue;
        }
        const a = answer(msg.execute, msg.arguments);
        setImmediate(end);
        if (a === 'silent') continue;
        if ('raw' in a) {
          sock.write(a.raw);
          continue;
        }
        const reply: Record<string, unknown> = { ...a };
        if (opts.echoId && msg.id !== undefined) reply.id = msg.id;
        sock.write(JSON.stringify(reply) + '\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  agent.done = () => {
    for (const s of socks) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return agent;
}
