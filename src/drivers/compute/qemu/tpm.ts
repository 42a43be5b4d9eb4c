// A VM's emulated TPM 2.0: one daemonized `swtpm socket` per VM, started before its QEMU as the VM's
// own uid. Its state (keys, NV indexes, PCR policy) lives in INSTANCE/tpm and survives restarts; its
// control socket and pidfile live in RUN/swtpm (the VM's uid's, as swtpm drops privileges before it
// makes the socket). With --terminate it ends when QEMU's connection goes; stop() makes sure.
import { chmod, chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { invalid, NimboError } from '../../../lib/errors.js';
import type { FileOwner } from './nvram.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The files of one VM's swtpm. */
export interface TpmPaths {
  /** INSTANCE/tpm: the TPM's persistent state (0700, the VM's uid). */
  stateDir: string;
  /** RUN/swtpm: control socket, pidfile, log. */
  runDir: string;
  socket: string;
  pid: string;
  log: string;
}

/** Paths of the swtpm of the VM with this instance dir and run dir. */
export function tpmPaths(instanceDir: string, runDir: string): TpmPaths {
  const r = join(runDir, 'swtpm');
  return { stateDir: join(instanceDir, 'tpm'), runDir: r, socket: join(r, 'swtpm.sock'), pid: join(r, 'swtpm.pid'), log: join(r, 'swtpm.log') };
}

/** The argv of the VM's swtpm (pure). Paths go into swtpm's comma-separated options: none may hold a comma. */
export function swtpmArgv(p: TpmPaths, runAs: string, binary = 'swtpm'): string[] {
  for (const x of [p.stateDir, p.socket, p.pid, p.log]) if (x.includes(',')) throw invalid(`swtpm path must not contain a comma: ${x}`);
  return [
    binary, 'socket', '--tpm2',
    '--tpmstate', `dir=${p.stateDir},mode=0600`,
    '--ctrl', `type=unixio,path=${p.socket},mode=0600`,
    '--pid', `file=${p.pid}`,
    '--log', `file=${p.log},level=1`,
    '--runas', runAs,
    '--terminate',
    '--daemon',
  ];
}

/** The live swtpm of these paths (its cmdline names our socket: a recycled pid is never taken for it), else undefined. */
export async function swtpmPid(p: TpmPaths, procRoot = '/proc'): Promise<number | undefined> {
  const pid = Number.parseInt((await readFile(p.pid, 'utf8').catch(() => '')).trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const cmd = await readFile(`${procRoot}/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.split('\0').some((a) => a.includes(`path=${p.socket}`)) ? pid : undefined;
}

/** Start the VM's swtpm (a stale one from an earlier run is stopped first); returns once its control socket is there. */
export async function startSwtpm(exec: HostExec, p: TpmPaths, owner: FileOwner, runAs: string, opts: { binary?: string; timeoutMs?: number } = {}): Promise<void> {
  await stopSwtpm(p);
  // The VM's run dir as QemuDriver.start leaves it (root's, its group may traverse): the swtpm dir sits inside.
  const vmRun = dirname(p.runDir);
  await mkdir(vmRun, { recursive: true, mode: 0o750 });
  await chown(vmRun, process.getuid?.() ?? 0, owner.gid);
  await chmod(vmRun, 0o750);
  for (const d of [p.stateDir, p.runDir]) {
    await mkdir(d, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await chown(d, owner.uid, owner.gid);
    await chmod(d, 0o700);
  }
  await exec.run(swtpmArgv(p, runAs, opts.binary), { timeoutMs: opts.timeoutMs ?? 15_000 });
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (!(await stat(p.socket).catch(() => undefined))) {
    if (Date.now() > deadline) {
      const log = await readFile(p.log, 'utf8').catch(() => '');
      await stopSwtpm(p);
      throw new NimboError('Internal', `swtpm did not open its socket ${p.socket}${log ? `: ${log.trim().slice(-500)}` : ''}`);
    }
    await sleep(20);
  }
}

/** Stop the VM's swtpm if it runs (SIGTERM, then SIGKILL), and remove its socket and pidfile; the state stays. */
export async function stopSwtpm(p: TpmPaths, procRoot?: string): Promise<void> {
  const pid = await swtpmPid(p, procRoot);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone already */
    }
    for (let i = 0; i < 100 && (await swtpmPid(p, procRoot)) !== undefined; i++) await sleep(20);
    const still = await swtpmPid(p, procRoot);
    if (still !== undefined) {
      try {
        process.kill(still, 'SIGKILL');
      } catch {
        /* gone already */
      }
      for (let i = 0; i < 100 && (await swtpmPid(p, procRoot)) !== undefined; i++) await sleep(20);
    }
  }
  await Promise.all([p.socket, p.pid].map((f) => rm(f, { force: true })));
}
