/** Where a reverter reports an undo step that failed (a pino logger fits). */
export interface UndoLog {
  warn(obj: object, msg: string): void;
}

/**
 * Collects undo steps of a multi-step host change; on failure they run in reverse order. An undo step that
 * fails does not stop the others; it is logged (with `context`, e.g. the instance) and returned by revert().
 */
export class Reverter {
  private steps: { what: string; undo: () => Promise<unknown> | unknown }[] = [];

  constructor(
    private readonly log?: UndoLog,
    private readonly context: Record<string, unknown> = {},
  ) {}

  /** Do a step that returns its own undo; the undo is registered only once the step has succeeded. */
  async step<T>(what: string, fn: () => Promise<{ value: T; undo: () => Promise<unknown> | unknown }>): Promise<T> {
    const { value, undo } = await fn();
    this.add(what, undo);
    return value;
  }

  /** Register how to undo the step just done. */
  add(what: string, undo: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, undo });
  }

  /** Forget the undo steps (the change succeeded). */
  success(): void {
    this.steps = [];
  }

  /** Run every undo step in reverse; returns (and logs) the steps that failed to undo. */
  async revert(): Promise<string[]> {
    const failed: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (e) {
        const err = e instanceof Error ? e.message : String(e);
        failed.push(`${step.what}: ${err}`);
        this.log?.warn({ ...this.context, step: step.what, err }, 'undo step failed: a host object may be left behind');
      }
    }
    this.steps = [];
    return failed;
  }

  /** Run `body`; if it throws, revert and rethrow. */
  async run<T>(body: (r: Reverter) => Promise<T>): Promise<T> {
    try {
      const out = await body(this);
      this.success();
      return out;
    } catch (e) {
      await this.revert();
      throw e;
    }
  }
}
