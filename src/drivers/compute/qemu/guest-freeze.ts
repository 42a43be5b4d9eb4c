// Filesystem freeze around a point-in-time (a snapshot, a backup's start) through the guest agent:
// freeze, run the instant, thaw in a finally, with timeouts. Without an agent the instant runs
// unfrozen (crash-consistent). The freeze and the thaw share one session, so the window is short.
import { NimboError } from '../../../lib/errors.js';
import { GuestAgentSession, withGuestAgent } from './guest-agent.js';

/** How an instant came out: application-consistent (the guest's filesystems were frozen) or crash-consistent. */
export interface FrozenResult<T> {
  result: T;
  consistency: 'application' | 'crash';
  /** application: from freeze returning to thaw returning (ms). */
  frozenMs?: number;
  /** application: how many filesystems the agent froze. */
  filesystems?: number;
}

/** Options of withGuestFrozen. */
export interface FreezeOptions {
  /** Waiting for the socket, connecting and syncing (default 3 s): past it, no agent. */
  connectTimeoutMs?: number;
  /** guest-fsfreeze-freeze (default 20 s: it flushes dirty data first). */
  freezeTimeoutMs?: number;
  /** guest-fsfreeze-thaw, each try (default 10 s). */
  thawTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Run `instant` with the guest's filesystems frozen by its agent at `path`; thawed again whatever happens. */
export async function withGuestFrozen<T>(path: string, instant: () => Promise<T>, opts: FreezeOptions = {}): Promise<FrozenResult<T>> {
  const log = opts.log ?? (() => {});
  let entered = false;
  try {
    return await withGuestAgent(path, async (s) => {
      entered = true;
      let filesystems: number;
      try {
        filesystems = await s.call<number>('guest-fsfreeze-freeze', undefined, Date.now() + (opts.freezeTimeoutMs ?? 20_000));
      } catch (e) {
        log(`guest agent could not freeze the filesystems (${(e as Error).message}): crash-consistent`);
        await thaw(s, path, opts, log); // a freeze that failed half-way (or late) must not stay
        return { result: await instant(), consistency: 'crash' as const };
      }
      const t0 = Date.now();
      let result: T;
      try {
        result = await instant();
      } finally {
        await thaw(s, path, opts, log);
      }
      const frozenMs = Date.now() - t0;
      log(`guest filesystems frozen for ${frozenMs} ms (${filesystems} filesystem(s)): application-consistent`);
      return { result, consistency: 'application' as const, frozenMs, filesystems };
    }, { timeoutMs: opts.connectTimeoutMs ?? 3000 });
  } catch (e) {
    if (entered) throw e;
    log(`no guest agent answered (${(e as Error).message}): crash-consistent`);
    return { result: await instant(), consistency: 'crash' };
  }
}

/** Thaw on the open session; if that fails, on fresh connections (we still hold the socket's turn). Never throws. */
async function thaw(s: GuestAgentSession, path: string, opts: FreezeOptions, log: (line: string) => void): Promise<void> {
  const each = opts.thawTimeoutMs ?? 10_000;
  try {
    await s.call('guest-fsfreeze-thaw', undefined, Date.now() + each);
    return;
  } catch (e) {
    log(`guest-fsfreeze-thaw failed (${(e as Error).message}); trying again on a new connection`);
  }
  s.close();
  for (let i = 0; i < 3; i++) {
    let again: GuestAgentSession | undefined;
    try {
      again = await GuestAgentSession.open(path, Date.now() + each);
      await again.call('guest-fsfreeze-thaw', undefined, Date.now() + each);
      return;
    } catch (e) {
      log(`guest-fsfreeze-thaw try ${i + 2} failed: ${(e as Error).message}`);
    } finally {
      again?.close();
    }
  }
  log(`the guest's filesystems may still be frozen: thaw them with the agent (guest-fsfreeze-thaw) or reboot the VM`);
}

/** True for the errors that mean "no agent there" rather than a failure of the agent. */
export function noAgent(e: unknown): boolean {
  return e instanceof NimboError && (e.code === 'Timeout' || e.code === 'Conflict');
}
