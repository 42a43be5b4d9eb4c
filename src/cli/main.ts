#!/usr/bin/env node
/** Entry of the `nimbo` CLI: `node dist/src/cli/main.js ARGS`. */
import { reportError } from './errors.js';
import { registerLifecycle } from './lifecycle.js';
import { buildProgram } from './program.js';

try {
  const program = buildProgram();
  registerLifecycle(program);
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = reportError(e);
}
