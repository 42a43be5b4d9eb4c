// Containers as core sees them: records, id ranges in the store, images, networks and pools
// resolved into plain values, then the runc driver folder does the host work (root, boot,
// netns, cgroups, volumes, lifecycle). Nothing here touches /sys, /proc, /run/netns or cgroups.
import type { ChildProcess } from '../host/spawn.js';
import { join } from 'node:path';
import type { RuntimeState } from '../drivers/compute/types.js';
import { execExitCode, type RuncDriver } from '../drivers/compute/runc/runc-driver.js';
import { ChildOutput, collectCapped, FILE_PULL_MAX, FILE_PULL_MAX_MS, FILE_PULL_STALL_MS } from './container-exec.js';
import { extractImageTree, imageTreeDir } from '../images/rootfs/index.js';
import { conflict, invalid, notFound, NimboError } from '../lib/errors.js';
import type { InstanceCreate, Nic } from '../shared/api-types.js';
import { readUserDb, resolveProcess } from '../images/oci/index.js';
import type { InstanceRecord } from './instance-record.js';
import type { ContainerLifecycle } from './instance-compute.js';
import type { BaseDeps } from './deps.js';
import type { ImageService } from './image-service.js';
import type { NetworkService } from './network-service.js';
import type { StorageService } from './storage-service.js';
import { cgroupParentOf, cgroupPathOf, ID_BASE, ID_SIZE, runtimeIdOf, type ContainerInfo } from '../drivers/compute/runc/container-info.js';
import { bootContainer } from '../drivers/compute/runc/boot.js';
import { RuncLifecycle } from '../drivers/compute/runc/lifecycle.js';
import { plugLiveNic } from '../drivers/compute/runc/netns.js';
import type { NetnsPort } from '../drivers/compute/runc/ports.js';
import { makeRoot, writeSeed } from '../drivers/compute/runc/root.js';
import { assertVolumeFree, plugVolume, unplugVolume } from '../drivers/compute/runc/volumes.js';

export { CONTAINER_LOG_MAX, ID_BASE, ID_SIZE, type ContainerInfo } from '../drivers/compute/runc/container-info.js';

/** An absolute path inside a container, without NUL. */
function checkPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0') || path.length > 4096) throw invalid(`path "${path}" must be absolute`);
  return path;
}

/** Pull: exit 3 for anything but a regular file (a FIFO or device would block or never end), else cat it. */
const PULL_SCRIPT = '[ -f "$1" ] || { [ -e "$1" ] && exit 3; echo "$1: No such file or directory" >&2; exit 2; }; exec cat -- "$1"';

const idKey = (n: number) => `/idmaps/${n}`;

/** What the container service is built from (InstanceService, structurally: storage and NIC limits are wired late). */
export interface ContainerHost {
  readonly d: BaseDeps & { network: NetworkService; images: ImageService };
  readonly storageService?: Pick<StorageService, 'driver'>;
  readonly nics?: { applyLimits(nic: Nic): Promise<void> };
}

/** System and application containers: runc bundles over overlay roots of the images, NICs as veths in a netns. */
export class ContainerService implements ContainerLifecycle {
  /** Runtime calls and host files of existing containers. */
  readonly lifecycle: RuncLifecycle;

  constructor(private host: ContainerHost, readonly runc: RuncDriver) {
    this.lifecycle = new RuncLifecycle(runc, host.d.exec);
  }

  private get d() {
    return this.host.d;
  }

  /** Network plumbing lent to the runc code. */
  private get net(): NetnsPort {
    return {
      plugNetns: (ns, nics, setup) => this.d.network.plugNetns(ns, nics, setup),
      applyLimits: async (nic) => {
        await this.host.nics?.applyLimits(nic);
      },
      deleteTap: (tap) => this.d.network.deleteTap(tap),
    };
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
    return runtimeIdOf(this.d.config.prefix, rec.name);
  }

  /** The root filesystem volume's directory (overlay upper/work and the mounted rootfs live there). */
  async rootDir(rec: InstanceRecord): Promise<string> {
    if (!rec.root) throw conflict(`container ${rec.name} has no root volume`);
    return this.volumeDir(rec.root.pool, rec.root.volume);
  }

  private async volumeDir(pool: string, volume: string): Promise<string> {
    const dr = await this.host.storageService!.driver(pool);
    return (await dr.volumePath(volume)).path;
  }

  /** Make the container's root: an overlay over the image's tree, ids shifted into its range. */
  async makeRoot(rec: InstanceRecord, ct: ContainerInfo): Promise<void> {
    const img = await this.d.images.ready(rec.image);
    const lower = img.oci ? img.oci.rootfs : (await extractImageTree(this.d.exec, { disk: img.disk, format: img.format as 'qcow2' | 'raw' }, imageTreeDir(img))).root;
    await makeRoot(this.d.exec, lower, await this.rootDir(rec), ct.hostId);
  }

  /** Write the seed (same files as a VM's cidata) where the container's init reads it. */
  writeSeed(rec: InstanceRecord, ct: ContainerInfo, files: Record<string, string>): Promise<void> {
    return writeSeed(this.d.paths.instance(rec.name), ct.hostId, files);
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

  /** Start (or re-create after a host reboot) the container: record, pools and networks resolved here, host work in runc/boot.ts. */
  async boot(rec: InstanceRecord): Promise<void> {
    const volumeMounts = [];
    for (const v of rec.volumes ?? []) if (v.path) volumeMounts.push({ source: await this.volumeDir(v.pool, v.volume), destination: v.path, readonly: false });
    await bootContainer(
      { exec: this.d.exec, runtime: this.runc, net: this.net, log: this.d.log },
      {
        name: rec.name,
        runtimeId: this.runtimeId(rec),
        cgroupsPath: cgroupPathOf(this.d.config.prefix, rec.name),
        runDir: this.d.paths.run(rec.name),
        instanceDir: this.d.paths.instance(rec.name),
        rootDir: await this.rootDir(rec),
        rootPool: rec.root!.pool,
        cpus: rec.cpus,
        memoryBytes: rec.memory,
        container: rec.container!,
        nics: rec.nics,
        volumeMounts,
        networks: rec.container!.app ? new Map((await this.d.network.records()).map((n) => [n.name, n])) : new Map(),
      },
    );
  }

  /** Give a running container a new NIC: a veth into its namespace, its limits, and (nimbo sets it) its address. */
  async plugNic(rec: InstanceRecord, nic: InstanceRecord['nics'][number]): Promise<void> {
    await plugLiveNic(this.net, rec.container!.netns, nic);
  }

  /** Hot-plug a directory into the running container at `path` (a bind mount put into its mount namespace). */
  async plugVolume(rec: InstanceRecord, source: string, path: string): Promise<void> {
    await plugVolume(await this.lifecycle.initPid(this.runtimeId(rec), rec.name), source, path, rec.container!.hostId);
  }

  /** Take volume directory `source` out of the container (Conflict naming the processes that still use it). */
  unplugVolume(source: string): Promise<void> {
    return unplugVolume(source);
  }

  /** Conflict, before any work starts, while processes still hold volume directory `source` (detach would be refused). */
  assertVolumeFree(source: string): Promise<void> {
    return assertVolumeFree(source);
  }

  /** Remove everything a container has on the host (runtime state, netns and veths, root mount); the volume stays. */
  async teardown(rec: InstanceRecord): Promise<void> {
    await this.lifecycle.teardown(
      {
        id: this.runtimeId(rec),
        netns: rec.container!.netns,
        taps: rec.nics.map((n) => n.tap),
        ...(rec.root ? { rootDir: () => this.rootDir(rec) } : {}),
        cgroupParent: cgroupParentOf(this.d.config.prefix),
      },
      this.net,
    );
  }

  /** Live pid of init and resource usage of a running container (nothing when runc does not know it). */
  live(rec: InstanceRecord): Promise<{ pid: number | null; usage?: { cpuSeconds: number; memoryBytes: number; pids: number } }> {
    return this.lifecycle.live(this.runtimeId(rec));
  }

  /** The exit code of an application container's process once it ended (kept by the exit shim), else null. */
  exitCode(rec: InstanceRecord): number | null {
    return this.lifecycle.exitCode(this.d.paths.run(rec.name));
  }

  /** How many processes of the container the OOM killer has killed (its memory cgroup's counter); null if unknown. */
  oomKills(rec: InstanceRecord): number | null {
    return this.lifecycle.oomKills(cgroupPathOf(this.d.config.prefix, rec.name));
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

  // The run-dir keyed lifecycle of the compute front (InstanceCompute).
  state(runDir: string): Promise<RuntimeState> {
    return this.lifecycle.state(runDir);
  }
  shutdown(runDir: string, timeoutMs: number): Promise<void> {
    return this.lifecycle.shutdown(runDir, timeoutMs);
  }
  kill(runDir: string): Promise<void> {
    return this.lifecycle.kill(runDir);
  }
  pause(runDir: string): Promise<void> {
    return this.lifecycle.pause(runDir);
  }
  resume(runDir: string): Promise<void> {
    return this.lifecycle.resume(runDir);
  }
}
