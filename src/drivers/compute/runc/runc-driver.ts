import type { ChildProcess } from '../../../host/spawn.js';
import { spawnArgv } from '../../../host/spawn.js';
import { existsSync } from 'node:fs';
import { access, mkdir, open, readFile, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { HostCommandError, invalid, NimboError, notFound, conflict } from '../../../lib/errors.js';
import { silentLogger, type Logger } from '../../../lib/log.js';
import type { ExecResult, HostExec } from '../../../host/exec.js';
import { ptyHelperArgs } from './pty-helper.js';
import { EXIT_SHIM } from './exit-shim.js';
import { lockMasks } from './mask-lock.js';
import type { OciConfig } from './oci-types.js';
import { DEFAULT_TERM, CREATE_TIMEOUT_MS, KILL_WAIT_MS, RUNC_ENV, checkExecOpts, checkId, execFlags, parseStatus, readFrom, signalNumber, runtimeMessage, sleep, validSize, type ContainerSignal, type ContainerState, type ContainerStats, type CreateOptions, type ExecOptions, type ExecSpawnOptions, type RuncDriverOptions, type StopOptions } from './runc-support.js';
export * from './runc-support.js';

/*
 * Containers through an OCI runtime CLI (runc; crun takes the same commands on cgroup-v2 hosts).
 *
 * Lifecycle: the caller writes BUNDLE/config.json (renderOciConfigJson) and a rootfs owned by
 * the container's idmap range (every directory above the rootfs and bind-mount sources must be
 * searchable by that range, e.g. mode 0755: runc bind-mounts the rootfs after entering the user
 * namespace), then create() runs `RUNTIME create` (the init exists, blocked
 * before exec) and, unless told otherwise, `RUNTIME start`. Between the two the caller can move
 * a veth into the container's fresh network namespace (/proc/PID/ns/net, owned by the
 * container's user namespace so the container may configure its own interfaces).
 *
 * Detachment: init is started by `RUNTIME create` (spawned in its own session) and runc's
 * nsexec puts it in yet another session; once `create` exits, init is re-parented to the host's
 * init/subreaper and holds only the log file, never a pipe to the daemon. Containers keep running
 * while the daemon is down; state() re-adopts them (the runtime's --root dir is the record).
 * On cgroup v1 runc moves init into cgroupsPath in every hierarchy, name=systemd included, so a
 * systemd service stop of the daemon does not kill it; on v2 keep cgroupsPath outside the
 * daemon's unit (or use KillMode=process).
 */

/**
 * The exit code of `RUNTIME exec` as a shell would give it: the runtime failing to start the
 * process (255) becomes 127 (not found) or 126 (not executable); Conflict for a paused or stopped container.
 */
export function execExitCode(id: string, code: number, stderr: string): number {
  if (code !== 255) return code;
  const msg = runtimeMessage(stderr);
  if (!/^exec failed:/.test(msg)) return code;
  if (/cannot exec in an? (paused|stopped) container/.test(msg)) throw conflict(`container ${id}: ${msg}`);
  if (/not found|no such file/i.test(msg)) return 127;
  if (/permission denied/i.test(msg)) return 126;
  return code;
}

/** A container driver over an OCI runtime CLI (runc, crun). */
export class RuncDriver {
  readonly runtime: string;
  readonly root: string;
  private readonly host: HostExec;
  private readonly log: Logger;
  private readonly python: string;
  private readonly spawn: NonNullable<RuncDriverOptions['spawn']>;
  private readonly pollMs: number;

  constructor(opts: RuncDriverOptions) {
    if (!isAbsolute(opts.root)) throw invalid(`runtime root must be absolute: ${opts.root}`);
    this.host = opts.exec;
    this.runtime = opts.runtime ?? 'runc';
    this.root = opts.root;
    this.log = opts.logger ?? silentLogger();
    this.python = opts.python ?? 'python3';
    this.spawn = opts.spawn ?? ((cmd, args, o) => spawnArgv([cmd, ...args], o));
    this.pollMs = opts.pollMs ?? 100;
  }

  /** argv prefix: RUNTIME --root ROOT */
  private base(): string[] {
    return [this.runtime, '--root', this.root];
  }

  /**
   * Run a runtime subcommand; a failure becomes NotFound (unknown id), Conflict (wrong state)
   * or HostCommandFailed (anything else).
   */
  private async runtimeCmd(id: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    const argv = [...this.base(), ...args];
    const res = await this.host.run(argv, { allowFailure: true, timeoutMs, env: RUNC_ENV() });
    if (res.code !== 0) throw this.classify(id, argv, res);
    return res;
  }

  private classify(id: string, argv: string[], res: ExecResult): NimboError {
    const msg = runtimeMessage(res.stderr);
    if (/does not exist/.test(msg)) return notFound(`container ${id}`);
    if (/\bnot (running|paused|stopped)\b|cannot \w+ (in )?an? (paused|stopped|running) container|has stopped|is (already )?(paused|running|stopped)/.test(msg)) {
      return conflict(`container ${id}: ${msg}`);
    }
    return new HostCommandError(argv, res.code, res.stderr || res.stdout);
  }

  /** The runtime's state of a container; 'absent' when the id is unknown (re-adoption uses this). */
  async state(id: string): Promise<ContainerState> {
    checkId(id);
    // The runtime keeps a directory per container under its root: none there, no container (no exec needed).
    if (existsSync(this.root) && !existsSync(join(this.root, id))) return { status: 'absent', pid: 0 };
    const argv = [...this.base(), 'state', id];
    const res = await this.host.run(argv, { allowFailure: true, timeoutMs: 30_000, env: RUNC_ENV() });
    if (res.code !== 0) {
      if (/does not exist/.test(runtimeMessage(res.stderr))) return { status: 'absent', pid: 0 };
      throw new HostCommandError(argv, res.code, res.stderr || res.stdout);
    }
    let j: { status?: unknown; pid?: unknown; bundle?: unknown };
    try {
      j = JSON.parse(res.stdout) as typeof j;
    } catch {
      throw new NimboError('Internal', `${this.runtime} state ${id}: output is not JSON`, { stdout: res.stdout.slice(0, 500) });
    }
    const status = parseStatus(j.status);
    const pid = typeof j.pid === 'number' && status !== 'stopped' ? j.pid : 0;
    return { status, pid, ...(typeof j.bundle === 'string' ? { bundle: j.bundle } : {}) };
  }

  private async mustExist(id: string): Promise<ContainerState> {
    const st = await this.state(id);
    if (st.status === 'absent') throw notFound(`container ${id}`);
    return st;
  }

  /**
   * Create the container from BUNDLE/config.json and (by default) start it. Init's stdout and
   * stderr are appended to opts.stdoutPath (so are the runtime's own errors about this start).
   * Returns the state right after: 'running' (or 'stopped' for an init that exited at once),
   * 'created' with start: false.
   */
  async create(id: string, bundleDir: string, opts: CreateOptions): Promise<ContainerState> {
    checkId(id);
    if (!isAbsolute(bundleDir)) throw invalid(`bundle dir must be absolute: ${bundleDir}`);
    if (!isAbsolute(opts.stdoutPath)) throw invalid(`stdoutPath must be absolute: ${opts.stdoutPath}`);
    try {
      await access(join(bundleDir, 'config.json'));
    } catch {
      throw invalid(`${join(bundleDir, 'config.json')} does not exist`);
    }
    const cur = await this.state(id);
    if (cur.status !== 'absent') throw conflict(`container ${id} already exists (${cur.status})`);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const timeoutMs = opts.timeoutMs ?? CREATE_TIMEOUT_MS;
    const runcArgv = [...this.base(), 'create', '--bundle', bundleDir, ...(opts.exitFile ? ['--pid-file', `${opts.exitFile}.pid`] : []), id];
    if (opts.exitFile) await rm(opts.exitFile, { force: true });
    const shim = opts.exitFile !== undefined || opts.logMaxBytes !== undefined;
    // Without a log bound the shim's log limit is effectively none (init writes the log through it all the same).
    const shimArgs = [opts.exitFile ?? '', opts.exitFile ? `${opts.exitFile}.pid` : '', opts.stdoutPath, String(opts.logMaxBytes ?? Number.MAX_SAFE_INTEGER), opts.consoleFifo ?? ''];
    const argv = shim ? [this.python, '-I', '-c', EXIT_SHIM, ...shimArgs, ...runcArgv] : runcArgv;
    const started = Date.now();
    const log = await open(opts.stdoutPath, 'a', 0o600);
    const cleanup = () => this.host.run([...this.base(), 'delete', '--force', id], { allowFailure: true, env: RUNC_ENV() });
    let code: number | null;
    let offset = 0;
    try {
      offset = (await log.stat()).size;
      code = await this.spawnDetached(argv, log.fd, timeoutMs, shim);
    } catch (e) {
      await cleanup();
      throw e;
    } finally {
      await log.close();
    }
    if (code !== 0) {
      const tail = await readFrom(opts.stdoutPath, offset);
      await cleanup();
      throw new HostCommandError(argv, code, tail || `${this.runtime} create failed`);
    }
    try {
      await this.lockMasksOf(id, bundleDir);
    } catch (e) {
      await cleanup();
      throw e;
    }
    if (opts.start !== false) {
      try {
        await this.runtimeCmd(id, ['start', id], timeoutMs);
      } catch (e) {
        await cleanup();
        throw e;
      }
    }
    const st = await this.state(id);
    this.log.info({ container: id, bundle: bundleDir, status: st.status, pid: st.pid, ms: Date.now() - started }, 'container created');
    return st;
  }

  /**
   * A container whose root holds CAP_SYS_ADMIN (system containers) could unmount runc's
   * /proc and /sys masks: lock them while its init still waits (mask-lock.ts).
   */
  private async lockMasksOf(id: string, bundleDir: string): Promise<void> {
    const cfg = JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')) as Partial<OciConfig>;
    if (!cfg.process?.capabilities?.bounding?.includes('CAP_SYS_ADMIN')) return;
    const { pid } = await this.state(id);
    await lockMasks(this.host, this.python, pid);
  }

  /**
   * Spawn the runtime with init's stdio on fd, in its own session; resolves with its exit code.
   * shim: the process is the exit shim, which stays alive; it reports the create's result on fd 3.
   */
  private spawnDetached(argv: string[], fd: number, timeoutMs: number, shim = false): Promise<number | null> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = this.spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd, ...(shim ? (['pipe'] as const) : [])], detached: true, env: RUNC_ENV() });
      } catch (e) {
        reject(new HostCommandError(argv, null, (e as Error).message));
        return;
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new NimboError('Timeout', `${argv[0]} create did not finish in ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new HostCommandError(argv, null, e.message));
      });
      if (shim) {
        let said = '';
        const status = child.stdio[3] as NodeJS.ReadableStream | null;
        status?.on('data', (b: Buffer) => (said += b.toString()));
        status?.on('end', () => {
          clearTimeout(timer);
          const m = /^failed (\d+)/.exec(said);
          if (said.startsWith('ok')) {
            child.unref(); // the shim waits for init on its own from here
            resolve(0);
          } else resolve(m ? Number(m[1]) : 1);
        });
        return;
      }
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  /** Start a 'created' container. */
  async start(id: string): Promise<void> {
    checkId(id);
    try {
      await this.runtimeCmd(id, ['start', id]);
    } catch (e) {
      // One exec on the way that works; the state explains a refusal.
      const st = await this.mustExist(id);
      if (st.status !== 'created') throw conflict(`container ${id} is ${st.status}, not created`);
      throw e;
    }
    this.log.info({ container: id }, 'container started');
  }

  /** Send a signal to init. */
  async kill(id: string, signal: ContainerSignal = 'SIGTERM'): Promise<void> {
    checkId(id);
    const n = signalNumber(signal);
    await this.runtimeCmd(id, ['kill', id, String(n)]);
  }

  /**
   * Signal init (default SIGTERM), wait up to timeoutMs for the container to stop, then SIGKILL.
   * A paused container is resumed first (a frozen init cannot act on the signal). Stopping a
   * stopped container is a no-op. forced: SIGKILL was needed.
   */
  async stop(id: string, opts: StopOptions = {}): Promise<{ forced: boolean }> {
    checkId(id);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sig = signalNumber(opts.signal ?? 'SIGTERM');
    const st = await this.mustExist(id);
    if (st.status === 'stopped') return { forced: false };
    if (st.status === 'paused') await this.runtimeCmd(id, ['resume', id]);
    this.log.info({ container: id, signal: sig, timeoutMs }, 'stopping container');
    if (await this.signalAndWait(id, sig, timeoutMs)) return { forced: false };
    this.log.warn({ container: id, timeoutMs }, 'container did not stop in time; SIGKILL');
    if (await this.signalAndWait(id, 9, KILL_WAIT_MS)) return { forced: true };
    throw new NimboError('Timeout', `container ${id} did not stop after SIGKILL`);
  }

  /** True once the container is stopped (or gone) within ms of sending sig. */
  private async signalAndWait(id: string, sig: number, ms: number): Promise<boolean> {
    try {
      await this.runtimeCmd(id, ['kill', id, String(sig)]);
    } catch (e) {
      // It stopped (or was deleted) between our state check and the kill.
      if (!(e instanceof NimboError && (e.code === 'Conflict' || e.code === 'NotFound'))) throw e;
    }
    const deadline = Date.now() + ms;
    for (;;) {
      const { status } = await this.state(id);
      if (status === 'stopped' || status === 'absent') return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(this.pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  /** Freeze every process of the container (cgroup freezer). */
  async pause(id: string): Promise<void> {
    checkId(id);
    await this.runtimeCmd(id, ['pause', id]);
  }

  /** Move a running container to other host cores (cgroup cpuset.cpus), live. */
  async updateCpuset(id: string, cpus: string): Promise<void> {
    checkId(id);
    if (!/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/.test(cpus)) throw new Error(`bad cpuset ${JSON.stringify(cpus)}`);
    await this.runtimeCmd(id, ['update', '--cpuset-cpus', cpus, id]);
  }

  async resume(id: string): Promise<void> {
    checkId(id);
    await this.runtimeCmd(id, ['resume', id]);
  }

  /** Remove the container (state dir and cgroup); force kills a live one first. */
  async delete(id: string, force = false): Promise<void> {
    checkId(id);
    await this.runtimeCmd(id, force ? ['delete', '--force', id] : ['delete', id]);
    this.log.info({ container: id, force }, 'container deleted');
  }

  /**
   * Run a process in a running container and wait for it. The exit code is the process's
   * (128+N when killed by signal N, e.g. 137 for the OOM killer); the runtime failing to start
   * it gives 127 (not found) or 126 (not executable), like a shell.
   */
  async exec(id: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    checkId(id);
    if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw invalid('exec args must be a non-empty list of strings');
    }
    checkExecOpts(opts);
    const st = await this.mustExist(id);
    if (st.status !== 'running') throw conflict(`container ${id} is ${st.status}, not running`);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const argv = [...this.base(), 'exec', ...execFlags(opts), id, ...args];
    let res: ExecResult;
    // The abort sends SIGTERM to runc, which forwards it to the process; the HostExec
    // timeout (later) SIGKILLs runc itself if the process ignores SIGTERM.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      res = await this.host.run(argv, { allowFailure: true, input: opts.input, timeoutMs: timeoutMs + 5000, signal, env: RUNC_ENV() });
    } catch (e) {
      if (!signal.aborted) throw e;
      throw new NimboError('Timeout', `exec in container ${id} did not finish in ${timeoutMs} ms`, { args }, e);
    }
    return { ...res, code: execExitCode(id, res.code, res.stderr) };
  }

  /**
   * Start a process in a running container and hand back its ChildProcess (stdin/stdout/stderr
   * pipes; exit code = the process's). tty: the process gets a pty through the python3 helper
   * (see pty-helper.ts); resize it with resizeExec(child, rows, cols). Killing the child
   * (SIGTERM/SIGHUP) ends the session: the pty hangs up and runc passes SIGHUP on.
   */
  async execSpawn(id: string, args: string[], opts: ExecSpawnOptions): Promise<ChildProcess> {
    checkId(id);
    if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw invalid('exec args must be a non-empty list of strings');
    }
    checkExecOpts(opts);
    const rows = opts.rows ?? 24;
    const cols = opts.cols ?? 80;
    if (!validSize(rows, cols)) throw invalid('tty rows/cols must be integers 1-65535');
    const st = await this.mustExist(id);
    if (st.status !== 'running') throw conflict(`container ${id} is ${st.status}, not running`);
    // The process's env comes from the container config plus --env, not from runc's own env:
    // a tty session gets TERM unless the caller sets one.
    const env = opts.tty && !(opts.env ?? []).some((e) => e.startsWith('TERM=')) ? [`TERM=${DEFAULT_TERM}`, ...(opts.env ?? [])] : opts.env;
    // A tty session's input waits for the process to run (the helper holds it until runc writes the pid file).
    const pidFile = opts.tty ? join(tmpdir(), `nimbo-exec-${process.pid}-${randomBytes(6).toString('hex')}.pid`) : undefined;
    const runtimeArgv = [...this.base(), 'exec', ...(pidFile ? ['-t', '--pid-file', pidFile] : []), ...execFlags({ ...opts, env }), id, ...args];
    if (!pidFile) return this.spawn(runtimeArgv[0]!, runtimeArgv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: RUNC_ENV() });
    const child = this.spawn(this.python, ptyHelperArgs(rows, cols, runtimeArgv), { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { ...RUNC_ENV(), NIMBO_PTY_HOLD: pidFile } });
    child.once('exit', () => void rm(pidFile, { force: true })); // the helper removes it too, unless killed
    return child;
  }

  /** One-shot resource usage (`RUNTIME events --stats`). */
  async stats(id: string): Promise<ContainerStats> {
    checkId(id);
    const res = await this.runtimeCmd(id, ['events', '--stats', id]);
    type N = number | undefined;
    let data: { cpu?: { usage?: { total?: N } }; memory?: { usage?: { usage?: N; limit?: N } }; pids?: { current?: N; limit?: N } };
    try {
      data = (JSON.parse(res.stdout) as { data?: typeof data }).data ?? {};
    } catch {
      throw new NimboError('Internal', `${this.runtime} events --stats ${id}: output is not JSON`, { stdout: res.stdout.slice(0, 500) });
    }
    const s: ContainerStats = {
      cpuNs: data.cpu?.usage?.total ?? 0,
      memoryBytes: data.memory?.usage?.usage ?? 0,
      pids: data.pids?.current ?? 0,
    };
    if (data.memory?.usage?.limit !== undefined) s.memoryLimitBytes = data.memory.usage.limit;
    if (data.pids?.limit !== undefined) s.pidsLimit = data.pids.limit;
    return s;
  }

  /** Ids of every container the runtime has under root, sorted. */
  async list(): Promise<string[]> {
    try {
      await access(this.root);
    } catch {
      return []; // `runc list` would create the root dir
    }
    const argv = [...this.base(), 'list', '--format', 'json'];
    const res = await this.host.run(argv, { timeoutMs: 30_000, env: RUNC_ENV() });
    let arr: unknown;
    try {
      arr = JSON.parse(res.stdout.trim() || 'null');
    } catch {
      throw new NimboError('Internal', `${this.runtime} list: output is not JSON`, { stdout: res.stdout.slice(0, 500) });
    }
    if (arr === null) return [];
    if (!Array.isArray(arr)) throw new NimboError('Internal', `${this.runtime} list: expected a JSON array`);
    return arr
      .map((c) => (c as { id?: unknown }).id)
      .filter((x): x is string => typeof x === 'string')
      .sort();
  }
}

