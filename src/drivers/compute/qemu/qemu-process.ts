import { readdir, readFile, rm } from 'node:fs/promises';
import { runPaths } from './run-paths.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where /proc lives (tests may point this elsewhere). */
export interface ProcOptions {
  procRoot?: string;
}

/**
 * True when `pid` is a live (not zombie) process whose command line names this runDir's
 * pidfile — so a recycled pid of some unrelated process is never mistaken for the VM.
 */
export async function isQemuOf(pid: number, runDir: string, opts: ProcOptions = {}): Promise<boolean> {
  const proc = opts.procRoot ?? '/proc';
  try {
    const stat = await readFile(`${proc}/${pid}/stat`, 'utf8');
    // state is the field after the parenthesised comm, which may itself contain ') '.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const args = (await readFile(`${proc}/${pid}/cmdline`, 'utf8')).split('\0');
    return args.includes(runPaths(runDir).pid);
  } catch {
    return false; // no such process (ENOENT) or it vanished between the reads
  }
}

/** The pid from RUNDIR/qemu.pid if that process is this VM's live QEMU, else undefined. */
export async function livePid(runDir: string, opts: ProcOptions = {}): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(runPaths(runDir).pid, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return (await isQemuOf(pid, runDir, opts)) ? pid : undefined;
}

/** Wait until the VM's process is gone; true if it went within timeoutMs. */
export async function waitForExit(pid: number, runDir: string, timeoutMs: number, opts: ProcOptions = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // An exiting process loses its cmdline (exit_mm) before it closes its files (exit_files):
    // wait until it is a zombie or gone, so the disk image locks are really released.
    if (!(await isQemuOf(pid, runDir, opts)) && (await goneOrZombie(pid, opts))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
  }
}

/**
 * True when `pid` is gone, a zombie whose threads have all exited (so its files, and QEMU's image
 * locks, are closed), or a different live process (pid reused).
 */
async function goneOrZombie(pid: number, opts: ProcOptions): Promise<boolean> {
  const proc = opts.procRoot ?? '/proc';
  try {
    const stat = await readFile(`${proc}/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    // A leader turns zombie while its other threads may still be exiting with the files open.
    if (state === 'Z' || state === 'X') return (await readdir(`${proc}/${pid}/task`).catch(() => [])).length <= 1;
    return (await readFile(`${proc}/${pid}/cmdline`, 'utf8')).length > 0; // empty: still exiting
  } catch {
    return true;
  }
}

/** Send a signal to the VM's process; false when it is already gone. */
export function signalPid(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Remove the sockets and pidfile a dead QEMU may have left (logs are kept). */
export async function removeStaleFiles(runDir: string): Promise<void> {
  const p = runPaths(runDir);
  await Promise.all([p.qmp, p.serial, p.vnc, p.qga, p.pid].map((f) => rm(f, { force: true })));
}
