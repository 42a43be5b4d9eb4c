// Typed helpers for the QEMU guest agent (qemu-ga) of a VM, over its virtio-serial channel
// (RUNDIR/qga.sock, see run-paths.ts). Each helper is one command in its own synced session
// (guest-agent-session.ts); sessions on one socket run one at a time.
import { NimboError } from '../../../lib/errors.js';
import { AGENT_TIMEOUT_MS, withGuestAgent, type AgentCallOptions } from './guest-agent-session.js';

export {
  AGENT_MAX_RESPONSE_BYTES, AGENT_TIMEOUT_MS, GuestAgentError, GuestAgentSession, withGuestAgent, type AgentCallOptions,
} from './guest-agent-session.js';

/** Default cap of captured stdout and of stderr (each) returned by agentRun / agentExecStatus. */
export const AGENT_EXEC_OUTPUT_CAP = 1024 * 1024;
/** Most bytes of stdin handed to guest-exec. */
export const AGENT_EXEC_MAX_INPUT = 1024 * 1024;
/** qemu-ga keeps at most 16 MiB of each stream; base64 makes that 4/3 larger (two streams plus JSON). */
const EXEC_STATUS_MAX_RESPONSE = 2 * Math.ceil((16 * 1024 * 1024 * 4) / 3) + 64 * 1024;

/** One command in its own session. */
function call<T>(path: string, command: string, args: Record<string, unknown> | undefined, opts: AgentCallOptions = {}): Promise<T> {
  return withGuestAgent(path, (s, deadline) => s.call<T>(command, args, deadline, { maxResponseBytes: opts.maxResponseBytes }), opts);
}

/** guest-ping: resolves when the agent answers. */
export async function agentPing(path: string, opts?: AgentCallOptions): Promise<void> {
  await call(path, 'guest-ping', undefined, opts);
}

/** What guest-info reports. */
export interface AgentInfo {
  version: string;
  /** The commands the agent has enabled. */
  commands: string[];
}

/** guest-info: the agent's version and enabled commands. */
export async function agentInfo(path: string, opts?: AgentCallOptions): Promise<AgentInfo> {
  const r = await call<{ version?: unknown; supported_commands?: { name?: unknown; enabled?: unknown }[] }>(path, 'guest-info', undefined, opts);
  const commands = (Array.isArray(r?.supported_commands) ? r.supported_commands : [])
    .filter((c) => c && typeof c.name === 'string' && c.enabled !== false)
    .map((c) => c.name as string);
  return { version: typeof r?.version === 'string' ? r.version.slice(0, 64) : 'unknown', commands };
}

/** One address of a guest interface. */
export interface AgentAddress {
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
}

/** One guest network interface as the agent reports it. */
export interface AgentInterface {
  name: string;
  mac?: string;
  addresses: AgentAddress[];
}

/** guest-network-get-interfaces, normalized (entries that do not parse are left out). */
export async function agentNetworkInterfaces(path: string, opts?: AgentCallOptions): Promise<AgentInterface[]> {
  return parseInterfaces(await call<unknown>(path, 'guest-network-get-interfaces', undefined, opts));
}

/** Normalizes a guest-network-get-interfaces reply, bounded (pure). */
export function parseInterfaces(r: unknown): AgentInterface[] {
  if (!Array.isArray(r)) return [];
  const out: AgentInterface[] = [];
  for (const i of r.slice(0, 64) as Record<string, unknown>[]) {
    if (!i || typeof i.name !== 'string') continue;
    const raw = Array.isArray(i['ip-addresses']) ? (i['ip-addresses'] as Record<string, unknown>[]) : [];
    const addresses: AgentAddress[] = [];
    for (const a of raw.slice(0, 64)) {
      const fam = a?.['ip-address-type'];
      if ((fam !== 'ipv4' && fam !== 'ipv6') || typeof a['ip-address'] !== 'string') continue;
      addresses.push({ family: fam, address: a['ip-address'].slice(0, 64), prefix: typeof a.prefix === 'number' ? a.prefix : 0 });
    }
    const mac = typeof i['hardware-address'] === 'string' ? i['hardware-address'].slice(0, 64) : undefined;
    out.push({ name: i.name.slice(0, 64), ...(mac ? { mac } : {}), addresses });
  }
  return out;
}

/** guest-fsfreeze-freeze: flush and freeze every guest filesystem; resolves with how many were frozen. */
export function agentFsFreeze(path: string, opts?: AgentCallOptions): Promise<number> {
  return call<number>(path, 'guest-fsfreeze-freeze', undefined, opts);
}

/** guest-fsfreeze-thaw: thaw them again; resolves with how many were thawed. */
export function agentFsThaw(path: string, opts?: AgentCallOptions): Promise<number> {
  return call<number>(path, 'guest-fsfreeze-thaw', undefined, opts);
}

/** guest-fsfreeze-status: 'thawed' or 'frozen'. */
export function agentFsFreezeStatus(path: string, opts?: AgentCallOptions): Promise<'thawed' | 'frozen'> {
  return call<'thawed' | 'frozen'>(path, 'guest-fsfreeze-status', undefined, opts);
}

/** guest-set-user-password: a clear-text password (or, with crypted, a crypt(3) hash) for a guest user. */
export async function agentSetUserPassword(path: string, user: string, password: string, opts: AgentCallOptions & { crypted?: boolean } = {}): Promise<void> {
  const args = { username: user, password: Buffer.from(password, 'utf8').toString('base64'), crypted: opts.crypted === true };
  await call(path, 'guest-set-user-password', args, opts);
}

/** What to run with guest-exec. */
export interface AgentExecRequest {
  /** The program (absolute path, or looked up on the agent's PATH). */
  path: string;
  args?: string[];
  env?: string[];
  /** Bytes for the program's stdin (at most AGENT_EXEC_MAX_INPUT). */
  input?: Buffer;
  /** Capture stdout and stderr (default true). */
  captureOutput?: boolean;
}

/** guest-exec: start a program in the guest; resolves with its guest pid. */
export async function agentExec(path: string, req: AgentExecRequest, opts?: AgentCallOptions): Promise<number> {
  return execPid(await call<{ pid?: unknown }>(path, 'guest-exec', execArgs(req), opts));
}

/** guest-exec's arguments for `req` (pure; TooLarge past AGENT_EXEC_MAX_INPUT). */
export function execArgs(req: AgentExecRequest): Record<string, unknown> {
  if (req.input && req.input.length > AGENT_EXEC_MAX_INPUT) throw new NimboError('TooLarge', `guest-exec input is limited to ${AGENT_EXEC_MAX_INPUT} bytes`);
  const args: Record<string, unknown> = { path: req.path, 'capture-output': req.captureOutput !== false };
  if (req.args) args.arg = req.args;
  if (req.env) args.env = req.env;
  if (req.input) args['input-data'] = req.input.toString('base64');
  return args;
}

const execPid = (r: { pid?: unknown } | undefined): number => {
  if (typeof r?.pid !== 'number') throw new NimboError('Internal', 'guest-exec: the agent returned no pid');
  return r.pid;
};

/** What guest-exec-status reports (qemu-ga hands the output over only once the program exited). */
export interface AgentExecStatus {
  exited: boolean;
  exitCode?: number;
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  /** The stream was cut: by the agent (16 MiB) or at maxOutputBytes. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

/** guest-exec-status of `pid`; each stream is cut to maxOutputBytes (default AGENT_EXEC_OUTPUT_CAP). */
export async function agentExecStatus(path: string, pid: number, opts: AgentCallOptions & { maxOutputBytes?: number } = {}): Promise<AgentExecStatus> {
  const r = await call<Record<string, unknown>>(path, 'guest-exec-status', { pid }, { maxResponseBytes: EXEC_STATUS_MAX_RESPONSE, ...opts });
  return parseExecStatus(r, opts.maxOutputBytes ?? AGENT_EXEC_OUTPUT_CAP);
}

/** A guest-exec-status reply, each stream cut to `cap` bytes (pure). */
export function parseExecStatus(r: Record<string, unknown> | undefined, cap: number): AgentExecStatus {
  const stream = (data: unknown, truncated: unknown): [Buffer, boolean] => {
    const b = typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.alloc(0);
    return b.length > cap ? [b.subarray(0, cap), true] : [b, truncated === true];
  };
  const [stdout, stdoutTruncated] = stream(r?.['out-data'], r?.['out-truncated']);
  const [stderr, stderrTruncated] = stream(r?.['err-data'], r?.['err-truncated']);
  return {
    exited: r?.exited === true,
    ...(typeof r?.exitcode === 'number' ? { exitCode: r.exitcode } : {}),
    ...(typeof r?.signal === 'number' ? { signal: r.signal } : {}),
    stdout, stderr, stdoutTruncated, stderrTruncated,
  };
}

/** Options of agentRun. */
export interface AgentRunOptions {
  /** How long the program may run (default 60 s); then Timeout (the program is left running). */
  timeoutMs?: number;
  /** Cap of each captured stream (default AGENT_EXEC_OUTPUT_CAP). */
  maxOutputBytes?: number;
  /** First poll interval in ms (doubles up to maxPollMs; default 50). */
  pollMs?: number;
  /** Longest poll interval in ms (default 1000; = pollMs: a steady poll, for a short program someone waits on). */
  maxPollMs?: number;
  /** Timeout of each agent call (default AGENT_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /**
   * guest-exec and every poll in one agent session (one sync instead of one per poll): for a short program the
   * caller waits on; other users of the agent wait meanwhile. Default false.
   */
  oneSession?: boolean;
}

/** guest-exec, then guest-exec-status until the program exited: its exit code and capped output. */
export async function agentRun(path: string, req: AgentExecRequest, opts: AgentRunOptions = {}): Promise<AgentExecStatus> {
  if (opts.oneSession) return runInOneSession(path, req, opts);
  const callOpts = { timeoutMs: opts.callTimeoutMs ?? AGENT_TIMEOUT_MS };
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  const pid = await agentExec(path, req, callOpts);
  return pollUntilExited(req, pid, opts, until, () => agentExecStatus(path, pid, { ...callOpts, maxOutputBytes: opts.maxOutputBytes }));
}

/** Polls `status` every pollMs (doubling up to maxPollMs) until the program exited; Timeout once past `until`. */
async function pollUntilExited(req: AgentExecRequest, pid: number, opts: AgentRunOptions, until: number, status: () => Promise<AgentExecStatus>): Promise<AgentExecStatus> {
  let wait = opts.pollMs ?? 50;
  const maxWait = Math.max(wait, opts.maxPollMs ?? 1000);
  for (;;) {
    const st = await status();
    if (st.exited) return st;
    if (Date.now() + wait > until) throw new NimboError('Timeout', `guest program ${req.path} (pid ${pid}) still running after ${opts.timeoutMs ?? 60_000} ms`, { pid });
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(maxWait, wait * 2);
  }
}

/** guest-shutdown (powerdown, halt or reboot); the agent answers only on failure, so silence is success. */
export async function agentShutdown(path: string, mode: 'powerdown' | 'halt' | 'reboot' = 'powerdown', opts?: AgentCallOptions): Promise<void> {
  await withGuestAgent(path, (s, deadline) => s.call('guest-shutdown', { mode }, deadline, { noReply: true }), opts);
}

/** agentRun's oneSession way: guest-exec, then guest-exec-status every pollMs (up to maxPollMs), in one session. */
function runInOneSession(path: string, req: AgentExecRequest, opts: AgentRunOptions): Promise<AgentExecStatus> {
  const cap = opts.maxOutputBytes ?? AGENT_EXEC_OUTPUT_CAP;
  return withGuestAgent(path, async (s, deadline) => {
    const pid = execPid(await s.call<{ pid?: unknown }>('guest-exec', execArgs(req), deadline));
    return pollUntilExited(req, pid, opts, deadline, async () =>
      parseExecStatus(await s.call<Record<string, unknown>>('guest-exec-status', { pid }, deadline, { maxResponseBytes: EXEC_STATUS_MAX_RESPONSE }), cap));
  }, { timeoutMs: opts.timeoutMs ?? 60_000 });
}
