import type { ExecOptions, ExecResult, HostExec } from './exec.js';
import { HostCommandError } from '../lib/errors.js';

/** A recorded call of the fake. */
export interface RecordedCall {
  argv: string[];
  input?: string;
}

/** A recording fake of HostExec for unit tests only: answers by matching argv prefixes. */
export class FakeExec implements HostExec {
  readonly calls: RecordedCall[] = [];
  private rules: { match: (argv: string[]) => boolean; result: Partial<ExecResult> }[] = [];

  /** Answer commands whose argv starts with `prefix`. */
  on(prefix: string[], result: Partial<ExecResult>): this {
    this.rules.push({ match: (a) => prefix.every((p, i) => a[i] === p), result });
    return this;
  }

  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ argv, input: opts.input === undefined ? undefined : String(opts.input) });
    const rule = [...this.rules].reverse().find((r) => r.match(argv));
    const res: ExecResult = { stdout: '', stderr: '', code: 0, ...(rule?.result ?? {}) };
    if (res.code !== 0 && !opts.allowFailure) throw new HostCommandError(argv, res.code, res.stderr);
    return res;
  }

  /** The argv of every call, joined by spaces, for compact assertions. */
  lines(): string[] {
    return this.calls.map((c) => c.argv.join(' '));
  }
}
