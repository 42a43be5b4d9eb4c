import { spawn } from 'node:child_process';
import { HostCommandError } from '../core/errors.js';

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
}

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
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new HostCommandError(argv, null, e.message));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
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
