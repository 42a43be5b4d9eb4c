#!/usr/bin/env node
/** Entry of the `nimbo` CLI: `node dist/src/cli/main.js ARGS`. */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Fast path: `nimbo --version` needs none of the command modules (they cost most of the startup).
  let v = '0.0.0';
  try {
    v = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? v;
  } catch {
    // keep 0.0.0, as program.ts does
  }
  process.stdout.write(`${v}\n`);
} else {
  // Loaded only when needed: commander, the command modules and their dependencies.
  const { reportError } = await import('./errors.js');
  try {
    const { buildProgram } = await import('./program.js');
    const { registerLifecycle } = await import('./lifecycle.js');
    const program = buildProgram();
    registerLifecycle(program);
    await program.parseAsync(process.argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
