import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runArgv } from '../../src/host/exec.js';

/** The repository root (tests run from dist/test/system). */
export const ROOT = resolve(new URL('../../..', import.meta.url).pathname);
const MAIN = join(ROOT, 'dist/src/cli/main.js');

/** Why system tests cannot run here, or undefined when they can. */
export function systemSkipReason(): string | undefined {
  if (process.env.CI === 'true') return undefined; // in CI a missing tool or privilege fails the tests instead
  if (process.getuid?.() !== 0) return 'system tests need root (bridges, taps, nftables)';
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86 is not installed (run scripts/setup.sh)';
  return undefined;
}

/** Pick a /24 in 10.200-249.x that no host route overlaps. */
async function freeSubnet(): Promise<string> {
  const routes = (await runArgv(['ip', '-4', 'route', 'show', 'table', 'all'])).stdout;
  for (let i = 0; i < 100; i++) {
    const net = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    if (!routes.includes(`${net}.`)) return `${net}.0/24`;
  }
  throw new Error('no free test subnet');
}

/** A CLI run's result. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A real nimbod on a temporary state dir with a per-run prefix, driven through the CLI and HTTP. */
export class TestDaemon {
  proc?: ChildProcess;
  url = '';
  token = '';
  private constructor(readonly stateDir: string, readonly prefix: string, readonly subnet: string, readonly extraArgs: string[] = []) {}

  /** Start a daemon (TCG, port chosen by the kernel), with extra `nimbo daemon` flags if given (e.g. --tls). */
  static async start(extraArgs: string[] = []): Promise<TestDaemon> {
    const prefix = `t${randomBytes(2).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), `nimbo-${prefix}-`));
    chmodSync(dir, 0o711); // dnsmasq (as nobody) and QEMU (as nimbo-qemu) must traverse it
    const d = new TestDaemon(dir, prefix, await freeSubnet(), extraArgs);
    try {
      await d.launch();
    } catch (e) {
      await d.cleanup();
      throw e;
    }
    return d;
  }

  /** (Re)start the daemon process on the same state dir. */
  async launch(): Promise<void> {
    rmSync(join(this.stateDir, 'daemon.json'), { force: true });
    const args = [MAIN, 'daemon', '--state-dir', this.stateDir, '--listen', '127.0.0.1:0', '--prefix', this.prefix, '--subnet', this.subnet, '--accel', 'tcg', ...this.extraArgs];
    this.proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NIMBO_LOG_LEVEL: process.env.NIMBO_LOG_LEVEL ?? 'warn' } });
    let stderr = '';
    this.proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    for (let i = 0; i < 300; i++) {
      if (existsSync(join(this.stateDir, 'daemon.json'))) break;
      if (this.proc.exitCode !== null) throw new Error(`nimbod exited: ${stderr}`);
      await sleep(100);
    }
    this.url = (JSON.parse(readFileSync(join(this.stateDir, 'daemon.json'), 'utf8')) as { url: string }).url;
    this.token = readFileSync(join(this.stateDir, 'admin.token'), 'utf8').trim();
  }

  /** Run the nimbo CLI against this daemon. */
  cli(...args: string[]): Promise<CliResult> {
    return runArgv([process.execPath, MAIN, ...args], {
      allowFailure: true,
      timeoutMs: 600_000,
      env: { ...process.env, NIMBO_URL: this.url, NIMBO_TOKEN: this.token, NIMBO_STATE_DIR: this.stateDir },
    });
  }

  /** Run the CLI and parse its JSON output; throws with stderr on failure. */
  async cliJson<T>(...args: string[]): Promise<T> {
    const r = await this.cli(...args, '-o', 'json');
    if (r.code !== 0) throw new Error(`nimbo ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** One HTTP call to the API. */
  async api(method: string, path: string, body?: unknown, token: string | null = this.token): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* text */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** Stop the daemon with a signal and wait for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  /** Stop the daemon and remove every host object this run created (containers, mounts, netns, VMs, taps, bridges, dnsmasq, nft tables, cgroups, files); `extraMountRoots`: pools outside the state dir. */
  async cleanup(extraMountRoots: string[] = []): Promise<void> {
    // Containers first: runc's own delete, then what their runs left mounted (the state dir, pools outside it).
    const runc = join(this.stateDir, 'run', 'runc');
    if (existsSync(runc)) {
      const ls = await runArgv(['runc', '--root', runc, 'list', '-q'], { allowFailure: true }).catch(() => ({ stdout: '' }));
      for (const id of ls.stdout.split('\n').filter(Boolean)) await runArgv(['runc', '--root', runc, 'delete', '--force', id], { allowFailure: true });
    }
    const roots = [this.stateDir, ...extraMountRoots.map((r) => `${r}/`)];
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
    for (const m of mounts.filter((m) => roots.some((r) => m.startsWith(r))).reverse()) await runArgv(['umount', '-l', m], { allowFailure: true });
    // Loop devices over files of the state dir (a backup disk mounted for single-file reads): detached.
    const loops = (await runArgv(['losetup', '-a'], { allowFailure: true })).stdout;
    for (const m of loops.matchAll(/^(\/dev\/loop\d+):.*\((.*)\)/gm)) if (m[2]!.startsWith(this.stateDir)) await runArgv(['losetup', '-d', m[1]!], { allowFailure: true });
    const ns = (await runArgv(['ip', 'netns', 'list'], { allowFailure: true })).stdout;
    for (const m of ns.matchAll(new RegExp(`^(${this.prefix}-[0-9a-f]+)`, 'gm'))) await runArgv(['ip', 'netns', 'del', m[1]!], { allowFailure: true });
    await this.stop('SIGKILL');
    const ps = await runArgv(['ps', '-eo', 'pid=,args='], { allowFailure: true });
    for (const line of ps.stdout.split('\n')) {
      const m = /^\s*(\d+)\s+(.*)$/.exec(line);
      if (m && m[2]!.includes(this.stateDir) && Number(m[1]) !== process.pid) {
        try {
          process.kill(Number(m[1]), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await sleep(300);
    const links = (await runArgv(['ip', '-o', 'link', 'show'], { allowFailure: true })).stdout;
    for (const m of links.matchAll(/^\d+:\s+([^:@\s]+)/gm)) {
      if (m[1]!.startsWith(this.prefix)) await runArgv(['ip', 'link', 'del', m[1]!], { allowFailure: true });
    }
    await runArgv(['nft', 'delete', 'table', 'inet', this.prefix], { allowFailure: true });
    await runArgv(['nft', 'delete', 'table', 'bridge', this.prefix], { allowFailure: true });
    // The containers' cgroups: one tree (v2) or one per controller (v1).
    const cg = '/sys/fs/cgroup';
    for (const c of existsSync(join(cg, 'cgroup.controllers')) ? [cg] : readdirSync(cg).map((x) => join(cg, x))) {
      await runArgv(['rmdir', join(c, `nimbo-${this.prefix}`)], { allowFailure: true });
    }
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  /** Names of host links that carry this run's prefix. */
  async links(): Promise<string[]> {
    const out = (await runArgv(['ip', '-o', 'link', 'show'])).stdout;
    return [...out.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]!).filter((n) => n.startsWith(this.prefix));
  }

  /** Wait until the instance's console log shows `re`. */
  async waitConsole(name: string, re: RegExp, timeoutMs = 120_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let log = '';
    while (Date.now() < end) {
      const r = await this.api('GET', `/instances/${name}/console/log?bytes=65536`);
      log = typeof r.body === 'string' ? r.body : '';
      if (re.test(log)) return log;
      await sleep(500);
    }
    throw new Error(`timed out waiting for ${re} on ${name}'s console; last output:\n${log.slice(-2000)}`);
  }

  /** The UUID of an instance: every host name of it (run dir, runc id, root volume) derives from it. */
  async idOf(name: string): Promise<string> {
    const r = await this.api('GET', `/instances/${name}`);
    if (r.status !== 200 || typeof r.body?.id !== 'string') throw new Error(`no instance ${name}: ${r.status}`);
    return r.body.id as string;
  }

  /** The run dir of an instance (sockets, logs), from its UUID. */
  async runDirOf(name: string): Promise<string> {
    return join(this.stateDir, 'run', await this.idOf(name));
  }

  /** runc's id of a container of this daemon, from its UUID. */
  async runtimeIdOf(name: string): Promise<string> {
    return `${this.prefix}-${await this.idOf(name)}`;
  }

  /** The root volume of an instance (root-<uuid>). */
  async rootVolumeOf(name: string): Promise<string> {
    return `root-${await this.idOf(name)}`;
  }

  files(sub: string): string[] {
    const p = join(this.stateDir, sub);
    return existsSync(p) ? readdirSync(p) : [];
  }
}

/** Make an SSH key pair in a temp dir; returns paths and the public key text. */
export async function makeSshKey(): Promise<{ dir: string; key: string; pub: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-key-'));
  const key = join(dir, 'id');
  await runArgv(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'nimbo-test', '-f', key]);
  return { dir, key, pub: readFileSync(`${key}.pub`, 'utf8').trim() };
}

/** Run a command over SSH in the guest (keys only, no host key checks, short timeouts). */
export function ssh(key: string, address: string, ...cmd: string[]) {
  return runArgv(
    ['ssh', '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${address}`, ...cmd],
    { allowFailure: true, timeoutMs: 60_000 },
  );
}

/** Retry ssh until it answers or the timeout passes. */
export async function sshUntil(key: string, address: string, timeoutMs: number, ...cmd: string[]) {
  const end = Date.now() + timeoutMs;
  let last = { code: -1, stdout: '', stderr: '' };
  while (Date.now() < end) {
    last = await ssh(key, address, ...cmd);
    if (last.code === 0) return last;
    await sleep(1000);
  }
  return last;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * True while the process exists and is not a zombie whose threads all exited (this sandbox's init
 * does not reap daemonized QEMUs; a zombie leader's other threads may still hold its files).
 */
export function processAlive(pid: number): boolean {
  try {
    if (!/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}
