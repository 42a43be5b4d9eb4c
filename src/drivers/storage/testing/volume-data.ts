// Writing and checking data inside block volumes for tests and benchmarks, through qemu-io (which
// opens qcow2 and raw alike, with the format given, never probed).
import type { HostExec } from '../../../host/exec.js';
import type { VolumeLocation } from '../types.js';

const CHUNK = 64 * 1024 * 1024;

/** qemu-io argv running the given commands on a volume file (pure). */
export function qemuIoArgv(loc: VolumeLocation, commands: string[]): string[] {
  if (loc.type !== 'file' || !loc.format) throw new Error(`qemu-io needs a file volume, got ${loc.type}`);
  return ['qemu-io', '-f', loc.format, ...commands.flatMap((c) => ['-c', c]), loc.path];
}

/** Write `len` bytes of `byte` at `offset`. */
export async function writePattern(exec: HostExec, loc: VolumeLocation, byte: number, offset: number, len: number): Promise<void> {
  const cmds: string[] = [];
  for (let o = offset; o < offset + len; o += CHUNK) cmds.push(`write -P 0x${byte.toString(16)} ${o} ${Math.min(CHUNK, offset + len - o)}`);
  const res = await exec.run(qemuIoArgv(loc, cmds), { timeoutMs: 1_800_000 });
  if (/error|failed/i.test(res.stdout + res.stderr)) throw new Error(`qemu-io write failed: ${res.stdout}${res.stderr}`);
}

/** Whether `len` bytes at `offset` all equal `byte`. */
export async function hasPattern(exec: HostExec, loc: VolumeLocation, byte: number, offset: number, len: number): Promise<boolean> {
  const res = await exec.run(qemuIoArgv(loc, [`read -P 0x${byte.toString(16)} ${offset} ${len}`]), { allowFailure: true });
  return res.code === 0 && !/verification failed|error/i.test(res.stdout + res.stderr);
}

/** Fill a whole volume with non-zero data (so it is not sparse), in 64 MiB writes. */
export async function fillVolume(exec: HostExec, loc: VolumeLocation, sizeBytes: number, byte = 0x5a): Promise<void> {
  await writePattern(exec, loc, byte, 0, sizeBytes);
}
