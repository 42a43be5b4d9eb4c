import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type SpawnOptions } from 'node:child_process';

/** The child-process types, so that code outside src/host needs no node:child_process import. */
export type { ChildProcess, ChildProcessWithoutNullStreams, SpawnOptions };

/** Start a long-running or streaming host program from an argv array (never through a shell). */
export function spawnArgv(argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  if (!argv[0]) throw new Error('spawnArgv: empty argv');
  return spawn(argv[0], argv.slice(1), { ...opts, shell: false });
}

/** spawnArgv with stdin, stdout and stderr as pipes (a helper process spoken to over its stdio). */
export function spawnPiped(argv: readonly string[], opts: Omit<SpawnOptions, 'stdio'> = {}): ChildProcessWithoutNullStreams {
  return spawnArgv(argv, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessWithoutNullStreams;
}
