import type { Command } from 'commander';

/** Registers `nimbo daemon`, `nimbo up` and `nimbo down` (owned by the integrator). */
export function registerLifecycle(program: Command): void {
  void program;
}
