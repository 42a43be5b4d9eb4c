/**
 * The peers bench/container-launch compares nimbo with: podman 4 (runc, on a bridge network of the run's
 * own) and LXC 5 (a veth on a bridge of the run's own). Each boots the same busybox tree as nimbo's tiny
 * containers (the image's tree, under an overlay the tool makes itself) with its own init, to the same
 * `NIMBO-READY NAME` line, given a seed directory with a static address like nimbo's. Every host object
 * carries the run's prefix and lives under the run's directory; `teardown` removes them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runArgv } from '../src/host/exec.js';
import { renderSeed } from '../src/images/seed.js';
import { CONTAINER_SEED_DIR, renderSeedDir } from '../src/drivers/compute/runc/rootfs/seed-dir.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One timed launch, in seconds from the command's start: when the command returned, and when the marker was there too. */
export interface Timing {
  exit: number;
  ready: number;
}

/** The ready line the tiny init prints for host name `name`. */
export const readyMarker = (name: string) => new RegExp(`NIMBO-READY ${name}\\b`);

/** Poll a log file every 5 ms until it shows `re`; seconds since t0. */
export async function waitLog(log: string | (() => string | undefined), re: RegExp, t0: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    // A function: the log's path is known only once it exists (nimbo's run dirs are named by the instance's UUID).
    const file = typeof log === 'string' ? log : log();
    if (file && existsSync(file) && re.test(readFileSync(file, 'utf8'))) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`no ready marker in ${file ?? 'a new log'}`);
    await sleep(5);
  }
}

/** Run argv (it must exit 0) while polling `log` for `re`: the user's view of "launched and up". */
export async function timeLaunch(argv: string[], log: string | (() => string | undefined), re: RegExp, env?: NodeJS.ProcessEnv): Promise<Timing> {
  const t0 = performance.now();
  let exit = 0;
  const cmd = runArgv(argv, { env, timeoutMs: 120_000 }).then(() => (exit = (performance.now() - t0) / 1000));
  const [, marker] = await Promise.all([cmd, waitLog(log, re, t0)]);
  return { exit, ready: Math.max(exit, marker) };
}

/** A /24 (as its first three octets) in 10.200-249.x that no host route overlaps and `avoid` does not name. */
export async function freeNet(avoid: string[]): Promise<string> {
  const routes = (await runArgv(['ip', '-4', 'route', 'show', 'table', 'all'])).stdout;
  for (let i = 0; i < 100; i++) {
    const net = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
    if (!routes.includes(`${net}.`) && !avoid.some((a) => a.startsWith(`${net}.`))) return net;
  }
  throw new Error('no free bench subnet');
}

/** Write the seed directory of peer container `name` (host name, a static address on eth0 with this MAC). */
async function writeSeed(dir: string, name: string, mac: string, net: string, host: number): Promise<void> {
  const files = renderSeed({ instanceId: name, hostname: name, sshKeys: [], nics: [{ mac, address: `${net}.${host}/24`, gateway: `${net}.1`, dns: [] }] });
  await renderSeedDir(files, dir);
}

const mac = (kind: number, i: number) => `02:00:00:00:${kind.toString(16).padStart(2, '0')}:${(10 + i).toString(16).padStart(2, '0')}`;

/** Remove the top-level cgroups whose name passes `match` (with their children; empty ones only) from every v1 hierarchy, or from the v2 tree. */
async function rmCgroups(match: (name: string) => boolean): Promise<void> {
  const cg = '/sys/fs/cgroup';
  const roots = existsSync(join(cg, 'cgroup.controllers')) ? [cg] : readdirSync(cg).map((x) => join(cg, x));
  for (const r of roots) {
    let subs: string[] = [];
    try {
      subs = readdirSync(r, { withFileTypes: true }).filter((e) => e.isDirectory() && match(e.name)).map((e) => e.name);
    } catch {
      continue; // not a hierarchy (e.g. a plain file or an unreadable mount)
    }
    for (const s of subs) await runArgv(['find', join(r, s), '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { allowFailure: true });
  }
}

/** Lazily unmount everything mounted below `dir` (deepest first). */
export async function umountBelow(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((m) => m.startsWith(`${dir}/`)).reverse()) await runArgv(['umount', '-l', m], { allowFailure: true });
}

/**
 * podman with runc (Debian's crun refuses hybrid cgroups), cgroupfs and file events (no systemd here),
 * rlimits inside this sandbox's hard limits, and its storage, run and network config dirs under `dir`.
 * The network is a CNI bridge (`PREFIX-pbr`) with only the bridge plugin: no NAT and no firewall plugin,
 * which would leave iptables chains behind; so podman does a little less than with its default network.
 */
export class Podman {
  private readonly net: string;
  constructor(private readonly dir: string, private readonly prefix: string, private readonly subnet: string) {
    this.net = join(dir, 'net');
  }

  private get base(): string[] {
    const d = this.dir;
    return ['podman', '--root', join(d, 'root'), '--runroot', join(d, 'run'), '--tmpdir', join(d, 'tmp'), '--network-config-dir', this.net,
      '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  }

  /** The container's name (also its host name) in run `i`. */
  name(i: number): string {
    return `${this.prefix}-p${i}`;
  }

  /** Write the network's config, and a containers.conf that pins the CNI backend (the conflist below is CNI's). */
  setup(): void {
    for (const d of ['root', 'run', 'tmp', 'net', 'ipam', 'seeds', 'logs']) mkdirSync(join(this.dir, d), { recursive: true });
    writeFileSync(join(this.dir, 'containers.conf'), '[network]\nnetwork_backend = "cni"\n');
    const ipam = { type: 'host-local', dataDir: join(this.dir, 'ipam'), ranges: [[{ subnet: `${this.subnet}.0/24`, gateway: `${this.subnet}.1` }]] };
    const conf = { cniVersion: '0.4.0', name: `${this.prefix}-pn`, plugins: [{ type: 'bridge', bridge: `${this.prefix}-pbr`, isGateway: true, ipMasq: false, hairpinMode: true, ipam }] };
    writeFileSync(join(this.net, `${this.prefix}-pn.conflist`), JSON.stringify(conf));
  }

  /** `podman run -d` of `tree` (under an overlay podman makes: `:O`) until the marker is in its log. */
  async launch(i: number, tree: string): Promise<Timing> {
    const name = this.name(i);
    const seed = join(this.dir, 'seeds', name);
    await writeSeed(seed, name, mac(1, i), this.subnet, 10 + i);
    const log = join(this.dir, 'logs', `${name}.log`);
    const argv = [...this.base, 'run', '-d', '--name', name, '--hostname', name, '--network', `${this.prefix}-pn`, '--ip', `${this.subnet}.${10 + i}`,
      '--mac-address', mac(1, i), '--cgroup-parent', `/${this.prefix}-podman`, '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      '--log-driver', 'k8s-file', '--log-opt', `path=${log}`, '-v', `${seed}:${CONTAINER_SEED_DIR}:ro`, '--rootfs', `${tree}:O`, '/sbin/init'];
    return timeLaunch(argv, log, readyMarker(name), this.env);
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, LC_ALL: 'C', CONTAINERS_CONF: join(this.dir, 'containers.conf') };
  }

  /** `podman rm -f` of run i's container. */
  async remove(i: number): Promise<void> {
    await runArgv([...this.base, 'rm', '-f', '-t', '0', this.name(i)], { env: this.env });
  }

  /** Remove every container, the bridge, the cgroup parent and the mounts below the run's directory. */
  async teardown(): Promise<void> {
    if (existsSync(join(this.dir, 'root'))) await runArgv([...this.base, 'rm', '-a', '-f', '-t', '0'], { allowFailure: true, env: this.env });
    await runArgv(['ip', 'link', 'del', `${this.prefix}-pbr`], { allowFailure: true });
    await rmCgroups((n) => n === `${this.prefix}-podman`);
    await umountBelow(this.dir);
  }
}

/**
 * LXC 5 with its own lxcpath under `dir`, Debian's common.conf (caps, devices, seccomp), no AppArmor
 * profile (none is loaded here), the rootfs as `overlay:TREE:UPPER`, one veth on `PREFIX-lbr`, and the
 * console logged to a file (the init prints the marker there).
 */
export class Lxc {
  constructor(private readonly dir: string, private readonly prefix: string, private readonly subnet: string) {}

  private get bridge(): string {
    return `${this.prefix}-lbr`;
  }

  /** The container's name (also its host name) in run `i`. */
  name(i: number): string {
    return `${this.prefix}-l${i}`;
  }

  /** Make the bridge (no host address: nothing on the host talks to these containers). */
  async setup(): Promise<void> {
    for (const d of ['path', 'seeds', 'logs', 'upper', 'conf']) mkdirSync(join(this.dir, d), { recursive: true });
    await runArgv(['ip', 'link', 'add', this.bridge, 'type', 'bridge']);
    await runArgv(['ip', 'link', 'set', this.bridge, 'up']);
  }

  /** `lxc-start -d` + `lxc-wait -s RUNNING` of `tree` until the marker is in the console log; `running`: seconds to lxc-wait's return. */
  async launch(i: number, tree: string): Promise<Timing & { running: number }> {
    const name = this.name(i);
    const seed = join(this.dir, 'seeds', name);
    await writeSeed(seed, name, mac(2, i), this.subnet, 10 + i);
    const log = join(this.dir, 'logs', `${name}.log`);
    const upper = join(this.dir, 'upper', name);
    mkdirSync(upper, { recursive: true });
    const conf = join(this.dir, 'conf', `${name}.conf`);
    writeFileSync(conf, [
      'lxc.include = /usr/share/lxc/config/common.conf',
      `lxc.uts.name = ${name}`,
      `lxc.rootfs.path = overlay:${tree}:${upper}`,
      'lxc.apparmor.profile = unconfined',
      'lxc.net.0.type = veth',
      `lxc.net.0.link = ${this.bridge}`,
      `lxc.net.0.veth.pair = ${name}`,
      `lxc.net.0.hwaddr = ${mac(2, i)}`,
      'lxc.net.0.flags = up',
      `lxc.mount.entry = ${seed} ${CONTAINER_SEED_DIR.slice(1)} none bind,ro,create=dir 0 0`,
      `lxc.console.logfile = ${log}`,
      'lxc.init.cmd = /sbin/init',
      '',
    ].join('\n'));
    const path = join(this.dir, 'path');
    const t0 = performance.now();
    await runArgv(['lxc-start', '-n', name, '-P', path, '-f', conf, '-d']);
    await runArgv(['lxc-wait', '-n', name, '-P', path, '-s', 'RUNNING', '-t', '30']);
    const running = (performance.now() - t0) / 1000;
    const ready = await waitLog(log, readyMarker(name), t0);
    return { exit: running, running, ready: Math.max(running, ready) };
  }

  /** Kill run i's container (lxc-stop -k); with a config file outside the lxcpath there is nothing to destroy. */
  async remove(i: number): Promise<void> {
    await runArgv(['lxc-stop', '-n', this.name(i), '-P', join(this.dir, 'path'), '-k']);
  }

  /** Stop what is left, remove the bridge, LXC's cgroups and the mounts below the run's directory. */
  async teardown(): Promise<void> {
    const path = join(this.dir, 'path');
    const left = existsSync(path) ? (await runArgv(['lxc-ls', '-P', path, '--running'], { allowFailure: true })).stdout.split(/\s+/).filter(Boolean) : [];
    for (const n of left) await runArgv(['lxc-stop', '-n', n, '-P', path, '-k'], { allowFailure: true });
    await runArgv(['ip', 'link', 'del', this.bridge], { allowFailure: true });
    // Ours carry the prefix; LXC's own pivot group (recreated when needed) goes too, only when empty.
    await rmCgroups((n) => n.startsWith(`lxc.payload.${this.prefix}-`) || n.startsWith(`lxc.monitor.${this.prefix}-`) || n === 'lxc.pivot');
    await umountBelow(this.dir);
  }
}
