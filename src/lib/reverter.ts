/** Collects undo steps of a multi-step host change; on failure they run in reverse order. */
export class Reverter {
  private steps: { what: string; undo: () => Promise<unknown> | unknown }[] = [];

  /** Register how to undo the step just done. */
  add(what: string, undo: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, undo });
  }

  /** Forget the undo steps (the change succeeded). */
  success(): void {
    this.steps = [];
  }

  /** Run every undo step in reverse; returns the steps that failed to undo (best effort). */
  async revert(): Promise<string[]> {
    const failed: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (e) {
        failed.push(`${step.what}: ${e instanceof Error ? e.message : String(e)}`);
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
