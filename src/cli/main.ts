#!/usr/bin/env node
/** Entry of the `nimbo` CLI: `node dist/src/cli/main.js ARGS` (or its bundle, dist/src/cli/nimbo-body.cjs, through nimbo.cjs). */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Fast path: `nimbo --version` needs none of the command modules (they cost most of the startup).
  let v = '0.0.0';
  try {
    v = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? v;
  } catch {
    // keep 0.0.0, as program-base.ts does
  }
  process.stdout.write(`${v}\n`);
} else {
  void run();
}

/** Parse and run the command. No top-level await: the bundle (scripts/bundle-cli.mjs) is CommonJS. */
async function run(): Promise<void> {
  // Loaded only when needed: commander and the one command module this run uses (command-table.ts).
  const { reportError } = await import('./errors.js');
  try {
    const { programFor } = await import('./command-table.js');
    await (await programFor(args)).parseAsync(process.argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
