import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync, chmodSync, chownSync, lstatSync, rmSync } from 'node:fs';
import type { HostExec } from '../host/exec.js';
import { join } from 'node:path';
import type { RuntimeState } from '../drivers/compute/types.js';
import { delegateCgroup, hostRenderOptions, wholeDiskOf, type RuncDriver } from '../drivers/compute/runc/runc-driver.js';
import { parseExitFile } from '../drivers/compute/runc/exit-shim.js';
import { execExitCode } from '../drivers/compute/runc/runc-driver.js';
import { ChildOutput, collectCapped, FILE_PULL_MAX, FILE_PULL_MAX_MS, FILE_PULL_STALL_MS } from './container-exec.js';
import { ifbNameFor } from '../drivers/network/qos/tc-render.js';
import type { NetnsSetup } from '../drivers/network/types.js';
import { containerVolumeMounts } from './container-volumes.js';
import { mountHelper } from '../drivers/compute/runc/rootfs/mount-helper.js';
import { renderOciConfigJson, type ContainerSpec } from '../drivers/compute/runc/oci-config.js';
import { extractImageTree, imageTreeDir } from '../images/rootfs/index.js';
import { makeContainerRoot, ensureContainerRoot, removeContainerRoot, renderSeedDir, CONTAINER_SEED_DIR } from '../drivers/compute/runc/rootfs/index.js';
import { CONTAINER_CONSOLE } from '../drivers/compute/runc/rootfs/seed-dir.js';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { InstanceCreate } from '../shared/api-types.js';
import { readUserDb, resolveProcess } from '../images/oci/index.js';
import type { InstanceRecord } from './instance-record.js';
import type { InstanceService } from './instance-service.js';
import { CONTAINER_MARKER, type ContainerLifecycle } from './instance-compute.js';

/** Container-only part of an instance record. */
export interface ContainerInfo {
  kind: 'system' | 'app';
  /** First host uid/gid of the container's 65536 ids (container root = this host id). */
  hostId: number;
  /** Named network namespace holding the container's NICs. */
  netns: string;
  /** Signal that asks init to power off (busybox init: SIGUSR2, systemd: SIGRTMIN+4). */
  stopSignal: string;
  pids: number;
  /** Relative CPU weight (1-10000, 100 = default) and swap on top of the memory limit, in bytes. */
  cpuWeight?: number;
  swapBytes?: number;
  /** Block I/O throttles on the disk under the root volume (bytes and operations per second). */
  disk?: { readBps?: number; writeBps?: number; readIops?: number; writeIops?: number };
  /** Processes the kernel killed for running out of the memory limit (as last seen). */
  oomKills?: number;
  /** Application containers: the process to run (resolved from the image config and overrides) and the restart policy. */
  app?: { args: string[]; env: string[]; cwd: string; uid: number; gid: number; restart: 'never' | 'on-failure' | 'always' };
  /** Application containers: how the process ended last time (128+N: killed by signal N). */
  exitCode?: number;
}

/** Remove this daemon's parent cgroup in every hierarchy once no container is left in it (rmdir fails otherwise). */
function pruneCgroupParent(name: string, root = '/sys/fs/cgroup'): void {
  const dirs = existsSync(join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((c) => join(root, c));
  for (const d of dirs) {
    try {
      rmdirSync(join(d, name));
    } catch {
      /* absent, or still holding containers */
    }
  }
}

/** Most bytes of a container's output log before the shim renames it to LOG.1 (so at most twice this on disk). */
export const CONTAINER_LOG_MAX = 1024 * 1024;

/**
 * Make (if absent) the FIFO a system container's services write their console lines to, owned by its
 * root; the exit shim reads it into the bounded log (a plain file there could grow without end).
 */
async function consoleFifo(exec: HostExec, path: string, hostId: number): Promise<void> {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isFIFO()) rmSync(path, { force: true });
  if (!st?.isFIFO()) await exec.run(['mkfifo', '-m', '0600', path]);
  chownSync(path, hostId, hostId);
}

/**
 * The dir holding a container's root (lower/upper/work/rootfs): root's, traversable by the container's
 * root (runc init resolves the rootfs path as it) and by no other user, so its files are not reachable by path.
 */
function closeToOthers(dir: string, hostId: number): void {
  chownSync(dir, 0, hostId);
  chmodSync(dir, 0o710);
}

/** An absolute path inside a container, without NUL. */
function checkPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.length > 4096) throw invalid(`path "${path}" must be absolute`);
  return path;
}

/** Pull: exit 3 for anything but a regular file (a FIFO or device would block or never end), else cat it. */
const PULL_SCRIPT = '[ -f "$1" ] || { [ -e "$1" ] && exit 3; echo "$1: No such file or directory" >&2; exit 2; }; exec cat -- "$1"';

/** Host ids of container n: 65536 ids from 1,000,000 + n * 65536. */
export const ID_BASE = 1_000_000;
export const ID_SIZE = 65536;
const idKey = (n: number) => `/idmaps/${n}`;

interface Marker {
  id: string;
  stopSignal: string;
  netns: string;
}

/** System containers: runc bundles over overlay roots of the same images VMs use, NICs as veths in a netns. */
export class ContainerService implements ContainerLifecycle {
  constructor(private svc: InstanceService, readonly runc: RuncDriver) {}

  private get d() {
    return this.svc.d;
  }

  /** Reserve a host id range for a new container (compare-and-swap, never shared). */
  async allocateIds(owner: string): Promise<number> {
    const taken = new Set((await this.d.store.list('/idmaps/')).map((kv) => Number(kv.key.slice('/idmaps/'.length))));
    for (let n = 0; n < 30000; n++) {
      if (taken.has(n)) continue;
      try {
        await this.d.store.put(idKey(n), { owner }, { expectRevision: 0 });
        return ID_BASE + n * ID_SIZE;
      } catch (e) {
        if (!(e instanceof NimboError) || e.code !== 'Conflict') throw e;
      }
    }
    throw conflict('no free id range for another container');
  }

  async releaseIds(hostId: number): Promise<void> {
    await this.d.store.delete(idKey((hostId - ID_BASE) / ID_SIZE));
  }

  /** runc's id of a container (per daemon prefix, so two daemons never clash). */
  runtimeId(rec: Pick<InstanceRecord, 'name'>): string {
    return `${this.d.config.prefix}-${rec.name}`;
  }

  private marker(runDir: string): Marker {
    return JSON.parse(readFileSync(join(runDir, CONTAINER_MARKER), 'utf8')) as Marker;
  }

  /** The root filesystem volume's directory (overlay upper/work and the mounted rootfs live there). */
  async rootDir(rec: InstanceRecord): Promise<string> {
    if (!rec.root) throw conflict(`container ${rec.name} has no root volume`);
    const dr = await this.svc.storageService!.driver(rec.root.pool);
    return (await dr.volumePath(rec.root.volume)).path;
  }

  /** Make the container's root: an overlay over the image's tree, ids shifted into its range. */
  async makeRoot(rec: InstanceRecord, ct: ContainerInfo): Promise<void> {
    const img = await this.d.images.ready(rec.image);
    const lower = img.oci ? img.oci.rootfs : (await extractImageTree(this.d.exec, { disk: img.disk, format: img.format as 'qcow2' | 'raw' }, imageTreeDir(img))).root;
    const dir = await this.rootDir(rec);
    closeToOthers(dir, ct.hostId);
    await makeContainerRoot(this.d.exec, lower, dir, { hostId: ct.hostId, size: ID_SIZE });
  }

  /** Write the seed (same files as a VM's cidata) where the container's init reads it. */
  writeSeed(rec: InstanceRecord, ct: ContainerInfo, files: Record<string, string>): Promise<void> {
    const dir = join(this.d.paths.instance(rec.name), 'seed');
    return renderSeedDir(files, dir, { uid: ct.hostId, gid: ct.hostId });
  }

  /** The process of an application container: the image's config with the request's overrides. */
  async appProcess(image: string, o: NonNullable<InstanceCreate['app']>): Promise<NonNullable<ContainerInfo['app']>> {
    const img = await this.d.images.ready(image);
    if (!img.oci) throw invalid(`image ${image} is not an OCI application image: launch it as a VM or a system container`);
    const db = await readUserDb(img.oci.rootfs);
    const p = resolveProcess(img.oci.config, o, db.passwd, db.group);
    if (p.uid >= ID_SIZE || p.gid >= ID_SIZE) throw invalid(`user ${o.user ?? img.oci.config.user} (uid ${p.uid}) is outside the container's ${ID_SIZE} ids`);
    return { args: p.args, env: p.env, cwd: p.cwd, uid: p.uid, gid: p.gid, restart: o.restart ?? 'never' };
  }

  /** /etc/hosts, /etc/hostname and /etc/resolv.conf of an application container (bind-mounted read-only). */
  private async appFiles(rec: InstanceRecord): Promise<{ source: string; destination: string; readonly: boolean }[]> {
    const dir = join(this.d.paths.instance(rec.name), 'etc');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const nets = new Map((await this.d.network.records()).map((n) => [n.name, n]));
    const first = nets.get(rec.nics[0]!.network)!;
    const files: Record<string, string> = {
      hostname: `${rec.name}\n`,
      hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n${rec.nics.map((n) => `${n.address.split('/')[0]}\t${rec.name}.${n.network} ${rec.name}`).join('\n')}\n`,
      'resolv.conf': `nameserver ${first.gateway}\nsearch ${[...new Set(rec.nics.map((n) => n.network))].join(' ')}\n`,
    };
    return Object.entries(files).map(([f, text]) => {
      writeFileSync(join(dir, f), text, { mode: 0o644 });
      return { source: join(dir, f), destination: `/etc/${f}`, readonly: true };
    });
  }

  /** Addresses and default route of an application container (it has no init to read a seed); none for system containers. */
  private async appNetwork(rec: InstanceRecord): Promise<NetnsSetup> {
    if (!rec.container?.app) return {};
    const nets = new Map((await this.d.network.records()).map((n) => [n.name, n]));
    const first = rec.nics[0];
    const net = first ? nets.get(first.network) : undefined;
    return {
      addresses: rec.nics.map((n) => ({ dev: n.name, cidr: n.address })),
      ...(first && net && net.mode !== 'isolated' ? { defaultRoute: { via: net.gateway, dev: first.name } } : {}),
    };
  }

  /**
   * Name the network namespace runc made for the created (not yet started) container and give it one
   * veth per NIC (host end on the network's bridge, MAC as allocated). The namespace must belong to the
   * container's user namespace (so its sysfs shows its own NICs and `runc exec` may join it), which is
   * why runc makes it rather than nimbo.
   */
  private async plumb(rec: InstanceRecord, ct: ContainerInfo, pid: number): Promise<void> {
    await this.d.network.plugNetns(ct.netns, rec.nics, { attachPid: pid, ...(await this.appNetwork(rec)) });
    for (const nic of rec.nics) {
      // A new veth has no qdiscs: only limits to set, or an egress shaper left from an earlier run, need tc.
      if (nic.ingressBps || nic.egressBps || existsSync(`/sys/class/net/${ifbNameFor(nic.tap)}`)) await this.svc.nics?.applyLimits(nic);
    }
  }

  /** The whole disk the root volume's filesystem lives on (where its block I/O throttles apply). */
  private async rootDisk(rec: InstanceRecord, rootDir: string): Promise<{ major: number; minor: number }> {
    const disk = await wholeDiskOf(this.d.exec, rootDir);
    if (!disk) throw invalid(`disk limits of ${rec.name}: pool ${rec.root!.pool} is not on a block device`);
    return disk;
  }

  /** Start (or re-create after a host reboot) the container. */
  async boot(rec: InstanceRecord): Promise<void> {
    const ct = rec.container!;
    const runDir = this.d.paths.run(rec.name);
    mkdirSync(runDir, { recursive: true, mode: 0o711 });
    await this.dropNetns(ct.netns);
    const rootDir = await this.rootDir(rec);
    closeToOthers(rootDir, ct.hostId); // also for a copy, and a root made by an older version (0711)
    const root = await ensureContainerRoot(this.d.exec, rootDir);
    const bundle = join(this.d.paths.instance(rec.name), 'bundle');
    // config.json (env, maybe secrets) is read by runc as root only.
    mkdirSync(bundle, { recursive: true, mode: 0o700 });
    chmodSync(bundle, 0o700);
    const app = ct.app;
    const serialLog = join(runDir, 'serial.log');
    // Init's output reaches serialLog through the shim, bounded; a system container's console lines through this FIFO.
    const fifo = join(runDir, 'console.fifo');
    if (!app) await consoleFifo(this.d.exec, fifo, ct.hostId);
    const spec: ContainerSpec = {
      id: this.runtimeId(rec),
      kind: app ? 'app' : 'system',
      hostname: rec.name,
      rootfs: root.rootfs,
      process: app
        ? { args: app.args, env: app.env, cwd: app.cwd, uid: app.uid, gid: app.gid }
        : { args: ['/sbin/init'], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'container=nimbo', 'TERM=xterm'], cwd: '/', uid: 0, gid: 0 },
      idmap: { hostId: ct.hostId, size: ID_SIZE },
      limits: {
        cpus: rec.cpus,
        memoryBytes: rec.memory,
        pids: ct.pids,
        ...(ct.cpuWeight !== undefined ? { cpuWeight: ct.cpuWeight } : {}),
        ...(ct.swapBytes !== undefined ? { swapBytes: ct.swapBytes } : {}),
        ...(ct.disk && Object.keys(ct.disk).length ? { blkioThrottle: [{ ...(await this.rootDisk(rec, rootDir)), ...ct.disk }] } : {}),
      },
      cgroupsPath: `/nimbo-${this.d.config.prefix}/${rec.name}`,
      mounts: app
        ? [...(await this.appFiles(rec)), ...(await containerVolumeMounts(rec, this.svc.storageService!))]
        : [
            { source: join(this.d.paths.instance(rec.name), 'seed'), destination: CONTAINER_SEED_DIR, readonly: true },
            // systemd points its own stdio at /dev/null: its services reach the console log here.
            { source: fifo, destination: CONTAINER_CONSOLE, readonly: false },
            ...(await containerVolumeMounts(rec, this.svc.storageService!)),
          ],
      // A system container's init mounts, sets its hostname and configures its NICs, in its own namespaces only.
      extraCapabilities: app ? [] : ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_BOOT'],
    };
    writeFileSync(join(bundle, 'config.json'), renderOciConfigJson(spec, await hostRenderOptions()));
    writeFileSync(join(runDir, CONTAINER_MARKER), JSON.stringify({ id: spec.id, stopSignal: ct.stopSignal, netns: ct.netns } satisfies Marker) + '\n', { mode: 0o600 });
    const st = await this.runc.state(spec.id);
    if (st.status !== 'absent') await this.runc.delete(spec.id, true);
    const t0 = Date.now();
    const created = await this.runc.create(spec.id, bundle, { stdoutPath: serialLog, start: false, logMaxBytes: CONTAINER_LOG_MAX, ...(app ? { exitFile: join(runDir, 'exit.json') } : { consoleFifo: fifo }) });
    const t1 = Date.now();
    try {
      // Its own cgroup2 tree for the init (systemd needs one it may write), before init runs.
      if (!app) await delegateCgroup(spec.cgroupsPath, { uid: ct.hostId, gid: ct.hostId });
      await this.plumb(rec, ct, created.pid);
      const t2 = Date.now();
      await this.runc.start(spec.id);
      this.d.log.debug({ instance: rec.name, createMs: t1 - t0, plumbMs: t2 - t1, startMs: Date.now() - t2 }, 'container booted');
    } catch (e) {
      await this.runc.delete(spec.id, true).catch(() => undefined);
      await this.dropNetns(ct.netns);
      throw e;
    }
  }

  /** Give a running container a new NIC: a veth into its namespace, its limits, and (nimbo sets it) its address. */
  async plugNic(rec: InstanceRecord, nic: InstanceRecord['nics'][number]): Promise<void> {
    await this.d.network.plugNetns(rec.container!.netns, [nic], { addresses: [{ dev: nic.name, cidr: nic.address }] });
    if (nic.ingressBps || nic.egressBps) await this.svc.nics?.applyLimits(nic);
  }

  /** Hot-plug a directory into the running container at `path` (a bind mount put into its mount namespace). */
  async plugVolume(rec: InstanceRecord, source: string, path: string): Promise<void> {
    await mountHelper.inject(await this.initPid(rec), source, path, rec.container!.hostId);
  }

  /**
   * Take volume directory `source` out of the container (and out of any mount namespace its
   * processes made): not lazily, so nothing reaches it afterwards; Conflict naming the processes
   * that still use it.
   */
  async unplugVolume(source: string): Promise<void> {
    await mountHelper.detach(source);
  }

  /** Conflict, before any work starts, while processes still hold volume directory `source` (detach would be refused). */
  async assertVolumeFree(source: string): Promise<void> {
    const busy = await mountHelper.volumeHolders(source);
    if (busy.length) throw conflict(`the volume is in use: ${busy.slice(0, 8).join('; ')}; end those processes (or move them out of it) and detach again`);
  }

  private async initPid(rec: InstanceRecord): Promise<number> {
    const st = await this.runc.state(this.runtimeId(rec));
    if (!st.pid || (st.status !== 'running' && st.status !== 'paused' && st.status !== 'created')) throw conflict(`container ${rec.name} is not running`);
    return st.pid;
  }

  /** Forget the name of a container's network namespace (the namespace itself ends with the container). */
  private async dropNetns(ns: string): Promise<void> {
    if (existsSync(`/run/netns/${ns}`)) await this.d.exec.run(['ip', 'netns', 'del', ns], { allowFailure: true });
  }

  /** Remove everything a container has on the host (runtime state, netns and veths, root mount); the volume stays. */
  async teardown(rec: InstanceRecord): Promise<void> {
    const ct = rec.container!;
    const id = this.runtimeId(rec);
    if ((await this.runc.state(id)).status !== 'absent') await this.runc.delete(id, true);
    for (const nic of rec.nics) await this.d.network.deleteTap(nic.tap);
    await this.dropNetns(ct.netns);
    if (rec.root) await removeContainerRoot(this.d.exec, await this.rootDir(rec)).catch(() => undefined);
    pruneCgroupParent(`nimbo-${this.d.config.prefix}`);
  }

  /** Live pid of init and resource usage of a running container (nothing when runc does not know it). */
  async live(rec: InstanceRecord): Promise<{ pid: number | null; usage?: { cpuSeconds: number; memoryBytes: number; pids: number } }> {
    const id = this.runtimeId(rec);
    const st = await this.runc.state(id);
    if (st.status === 'absent' || st.status === 'stopped') return { pid: null };
    try {
      const s = await this.runc.stats(id);
      return { pid: st.pid, usage: { cpuSeconds: Math.round(s.cpuNs / 1e6) / 1e3, memoryBytes: s.memoryBytes, pids: s.pids } };
    } catch {
      return { pid: st.pid };
    }
  }

  /** The exit code of an application container's process once it ended (kept by the exit shim), else null. */
  exitCode(rec: InstanceRecord): number | null {
    try {
      return parseExitFile(readFileSync(join(this.d.paths.run(rec.name), 'exit.json'), 'utf8'));
    } catch {
      return null;
    }
  }

  /** How many processes of the container the OOM killer has killed (its memory cgroup's counter); null if unknown. */
  oomKills(rec: InstanceRecord): number | null {
    const rel = `nimbo-${this.d.config.prefix}/${rec.name}`;
    const v2 = '/sys/fs/cgroup/cgroup.controllers';
    const file = existsSync(v2) ? join('/sys/fs/cgroup', rel, 'memory.events') : join('/sys/fs/cgroup/memory', rel, 'memory.oom_control');
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  /** An interactive login shell on a pty in a running container (the console of a container). */
  shell(rec: InstanceRecord): Promise<ChildProcess> {
    return this.execTty(rec, ['/bin/sh', '-l']);
  }

  /** A command on a pty in a running container (its exit code is the child's). */
  async execTty(rec: InstanceRecord, args: string[], size: { rows?: number; cols?: number } = {}): Promise<ChildProcess> {
    if (rec.type !== 'container') throw conflict(`${rec.name} is a VM: use ssh or the console`);
    if (rec.state !== 'running') throw conflict(`container ${rec.name} is ${rec.state}`);
    return this.runc.execSpawn(this.runtimeId(rec), args, { tty: true, ...size });
  }

  /**
   * Read a file inside a running container as a stream (through `sh` and `cat` in it, so its own root
   * and permissions apply). Only regular files: a FIFO or device is refused before any byte, and
   * the transfer is cut past FILE_PULL_MAX bytes, FILE_PULL_STALL_MS without data or FILE_PULL_MAX_MS.
   */
  async pullFile(rec: InstanceRecord, path: string): Promise<ChildOutput> {
    const child = await this.spawnIn(rec, ['sh', '-c', PULL_SCRIPT, 'nimbo-pull', checkPath(path)], 'copy files with scp');
    const out = new ChildOutput(child, { framed: false, maxBytes: FILE_PULL_MAX, stallMs: FILE_PULL_STALL_MS, maxMs: FILE_PULL_MAX_MS }).start();
    await out.ready();
    if (out.errored) throw out.errored;
    if (out.code === null || out.code === 0) return out;
    const why = out.stderrText().trim();
    if (out.code === 3) throw invalid(`${path} in ${rec.name} is not a regular file: only regular files can be pulled (not FIFOs, devices or directories)`);
    if (out.code === 127) throw conflict(`container ${rec.name} has no sh or cat: cannot read files from it`);
    throw notFound(`${path} in ${rec.name}: ${why}`);
  }

  /** Write a file inside a running container (through `sh` and `cat` in it), then set its mode. */
  async pushFile(rec: InstanceRecord, path: string, data: Buffer, mode = '0644'): Promise<void> {
    if (!/^0?[0-7]{3,4}$/.test(mode)) throw invalid(`mode "${mode}" must be octal, e.g. 0644`);
    const child = await this.spawnIn(rec, ['sh', '-c', 'cat > "$1" && chmod "$2" "$1"', 'nimbo-push', checkPath(path), mode], 'copy files with scp');
    const r = await collectCapped(child, data, 3600_000, 64 * 1024);
    if (r.code === 127) throw conflict(`container ${rec.name} has no sh: cannot write files into it`);
    if (r.code !== 0) throw invalid(`cannot write ${path} in ${rec.name}: ${r.stderr.toString('utf8').trim()}`);
  }

  /** A command in a running container with pipes for stdin/stdout/stderr. */
  private async spawnIn(rec: InstanceRecord, args: string[], vmHint: string): Promise<ChildProcess> {
    if (rec.type !== 'container') throw conflict(`${rec.name} is a VM: ${vmHint}`);
    if (rec.state !== 'running') throw conflict(`container ${rec.name} is ${rec.state}`);
    return this.runc.execSpawn(this.runtimeId(rec), args, { tty: false });
  }

  /** Run a command in a running container; exit code passed through, at most EXEC_OUTPUT_CAP of each stream kept. */
  async exec(rec: InstanceRecord, args: string[], input?: string, timeoutMs = 60_000) {
    const r = await collectCapped(await this.spawnIn(rec, args, 'use ssh or the console'), input, timeoutMs);
    const stderr = r.stderr.toString('utf8');
    return { code: execExitCode(this.runtimeId(rec), r.code, stderr), stdout: r.stdout.toString('utf8'), stderr, truncated: r.truncated };
  }

  /** Run a command in a running container, its output as an exec stream (frames; unbounded, read as fast as the client reads). */
  async execStream(rec: InstanceRecord, args: string[], input?: string, timeoutMs = 60_000): Promise<ChildOutput> {
    const id = this.runtimeId(rec);
    const child = await this.spawnIn(rec, args, 'use ssh or the console');
    const mapCode = (code: number, tail: string) => {
      try {
        return execExitCode(id, code, tail);
      } catch {
        return code; // a paused container: its message is in the stream's stderr already
      }
    };
    return new ChildOutput(child, { framed: true, mapCode }).start(input, timeoutMs);
  }

  async state(runDir: string): Promise<RuntimeState> {
    const s = await this.runc.state(this.marker(runDir).id);
    if (s.status === 'running' || s.status === 'created') return 'running';
    if (s.status === 'paused') return 'paused';
    return 'stopped';
  }

  async shutdown(runDir: string, timeoutMs: number): Promise<void> {
    const m = this.marker(runDir);
    await this.runc.stop(m.id, { timeoutMs, signal: m.stopSignal });
    await this.runc.delete(m.id, true);
    await this.dropNetns(m.netns);
  }

  async kill(runDir: string): Promise<void> {
    const m = this.marker(runDir);
    if ((await this.runc.state(m.id)).status !== 'absent') await this.runc.delete(m.id, true);
    await this.dropNetns(m.netns);
  }

  pause(runDir: string): Promise<void> {
    return this.runc.pause(this.marker(runDir).id);
  }

  resume(runDir: string): Promise<void> {
    return this.runc.resume(this.marker(runDir).id);
  }
}

