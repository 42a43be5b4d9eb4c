import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { HostCommandError } from '../lib/errors.js';

/** Result of a finished host command. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Options for one host command. */
export interface ExecOptions {
  /** Text written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command after this many milliseconds (default 120 s). */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit; return the result instead. */
  allowFailure?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Most bytes kept of stdout and of stderr each (default HOST_OUTPUT_MAX); past it the command is killed and fails. */
  maxOutputBytes?: number;
  /**
   * Open file descriptors the command inherits as its fds 3, 4, ... (the caller keeps and closes its own copies),
   * e.g. a root-only file that a program reads after it dropped privileges.
   */
  fds?: number[];
}

/** Default cap on what one host command may print on stdout (and on stderr): the daemon never holds more. */
export const HOST_OUTPUT_MAX = 64 * 1024 * 1024;

/** The only way nimbo runs host programs: an argv array, never a shell string. */
export interface HostExec {
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** Runs real programs on this host. */
export class RealExec implements HostExec {
  run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return runArgv(argv, opts);
  }
}

/** Spawn argv[0] with argv[1..] (no shell) and collect its output. */
export function runArgv(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0 || !argv[0]) throw new Error('runArgv: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env, LC_ALL: 'C' },
      stdio: ['pipe', 'pipe', 'pipe', ...(opts.fds ?? [])],
      signal: opts.signal,
    }) as ChildProcessWithoutNullStreams; // stdin, stdout and stderr are pipes whatever fds follow them
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const max = opts.maxOutputBytes ?? HOST_OUTPUT_MAX;
    const sizes = [0, 0];
    let overflow: string | undefined;
    const collect = (into: Buffer[], which: 0 | 1) => (d: Buffer) => {
      if (overflow) return;
      sizes[which]! += d.length;
      if (sizes[which]! > max) {
        // A command that prints without end must not grow the daemon: stop it and say so.
        overflow = `${which === 0 ? 'stdout' : 'stderr'} passed ${max} bytes`;
        child.kill('SIGKILL');
        // Close our ends too: a grandchild holding the pipes (sh -c ...) must not keep the command "running".
        child.stdout.destroy();
        child.stderr.destroy();
        return;
      }
      into.push(d);
    };
    child.stdout.on('data', collect(out, 0));
    child.stderr.on('data', collect(err, 1));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HostCommandError(argv, null, e.message));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (overflow) {
        reject(new HostCommandError(argv, null, `output too large: ${overflow} (the command was killed)`));
        return;
      }
      const res = {
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (sig ? `\nkilled by ${sig}` : ''),
        code: code ?? -1,
      };
      if (res.code !== 0 && !opts.allowFailure) reject(new HostCommandError(argv, code, res.stderr || res.stdout));
      else resolve(res);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
