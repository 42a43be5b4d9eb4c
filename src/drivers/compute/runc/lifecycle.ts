// A container's lifecycle after boot: keyed by its run dir (the marker names the runtime id, stop
// signal and netns) for the compute front, or by runtime id for status; teardown of its host objects.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../../../host/exec.js';
import { conflict } from '../../../lib/errors.js';
import type { RuntimeState } from '../types.js';
import { CGROUP_ROOT, pruneCgroupParent, readOomKills } from './cgroups.js';
import { readMarker } from './container-info.js';
import { parseExitFile } from './exit-shim.js';
import { dropNetns, HOST_NETNS_PATHS, type NetnsHostPaths } from './netns.js';
import type { NetnsPort, RuncRuntime } from './ports.js';
import { removeRoot } from './root.js';

/** Live pid of init and resource usage of a running container. */
export interface ContainerLive {
  pid: number | null;
  usage?: { cpuSeconds: number; memoryBytes: number; pids: number };
}

/** Runtime calls on existing containers (RuncDriver underneath), plus the host files that go with them. */
export class RuncLifecycle {
  constructor(
    private readonly runtime: RuncRuntime,
    private readonly exec: HostExec,
    private readonly paths: { netns: NetnsHostPaths; cgroupRoot: string } = { netns: HOST_NETNS_PATHS, cgroupRoot: CGROUP_ROOT },
  ) {}

  /** The container's state as the compute front names it (created counts as running). */
  async state(runDir: string): Promise<RuntimeState> {
    const s = await this.runtime.state(readMarker(runDir).id);
    if (s.status === 'running' || s.status === 'created') return 'running';
    if (s.status === 'paused') return 'paused';
    return 'stopped';
  }

  /** Ask init to power off (its stop signal), force it after timeoutMs, then remove the runtime state and netns name. */
  async shutdown(runDir: string, timeoutMs: number): Promise<void> {
    const m = readMarker(runDir);
    await this.runtime.stop(m.id, { timeoutMs, signal: m.stopSignal });
    await this.runtime.delete(m.id, true);
    await dropNetns(this.exec, m.netns, this.paths.netns);
  }

  /** Hard stop at once (force delete), then drop the netns name. */
  async kill(runDir: string): Promise<void> {
    const m = readMarker(runDir);
    if ((await this.runtime.state(m.id)).status !== 'absent') await this.runtime.delete(m.id, true);
    await dropNetns(this.exec, m.netns, this.paths.netns);
  }

  /** Ask init to power off (its stop signal), force it after timeoutMs, then remove the runtime state and netns name; by ids, no marker read. */
  async stopById(c: { id: string; stopSignal: string; netns: string }, timeoutMs: number): Promise<void> {
    if ((await this.runtime.state(c.id)).status !== 'absent') {
      await this.runtime.stop(c.id, { timeoutMs, signal: c.stopSignal });
      await this.runtime.delete(c.id, true);
    }
    await dropNetns(this.exec, c.netns, this.paths.netns);
  }

  /** Hard stop at once (force delete), then drop the netns name; by ids. */
  async killById(c: { id: string; netns: string }): Promise<void> {
    if ((await this.runtime.state(c.id)).status !== 'absent') await this.runtime.delete(c.id, true);
    await dropNetns(this.exec, c.netns, this.paths.netns);
  }

  pause(runDir: string): Promise<void> {
    return this.runtime.pause(readMarker(runDir).id);
  }

  resume(runDir: string): Promise<void> {
    return this.runtime.resume(readMarker(runDir).id);
  }

  /** Pid of a created, running or paused container's init; Conflict naming `name` otherwise. */
  async initPid(id: string, name: string): Promise<number> {
    const st = await this.runtime.state(id);
    if (!st.pid || (st.status !== 'running' && st.status !== 'paused' && st.status !== 'created')) throw conflict(`container ${name} is not running`);
    return st.pid;
  }

  /** Live pid of init and resource usage (nothing when the runtime does not know it). */
  async live(id: string): Promise<ContainerLive> {
    const st = await this.runtime.state(id);
    if (st.status === 'absent' || st.status === 'stopped') return { pid: null };
    try {
      const s = await this.runtime.stats(id);
      return { pid: st.pid, usage: { cpuSeconds: Math.round(s.cpuNs / 1e6) / 1e3, memoryBytes: s.memoryBytes, pids: s.pids } };
    } catch {
      return { pid: st.pid };
    }
  }

  /** The exit code of an application container's process once it ended (kept by the exit shim in the run dir), else null. */
  exitCode(runDir: string): number | null {
    try {
      return parseExitFile(readFileSync(join(runDir, 'exit.json'), 'utf8'));
    } catch {
      return null;
    }
  }

  /** How many of the container's processes the OOM killer has killed (its memory cgroup's counter); null if unknown. */
  oomKills(cgroupsPath: string): number | null {
    return readOomKills(cgroupsPath, this.paths.cgroupRoot);
  }

  /**
   * Remove everything a container has on the host: runtime state, NIC host ends, netns name, root
   * mount and files (the root volume's dir, looked up last; the volume stays), and the daemon's parent cgroup once empty.
   */
  async teardown(t: { id: string; netns: string; taps: string[]; rootDir?: () => Promise<string>; cgroupParent: string }, net: Pick<NetnsPort, 'deleteTap'>): Promise<void> {
    if ((await this.runtime.state(t.id)).status !== 'absent') await this.runtime.delete(t.id, true);
    for (const tap of t.taps) await net.deleteTap(tap);
    await dropNetns(this.exec, t.netns, this.paths.netns);
    if (t.rootDir) await removeRoot(this.exec, await t.rootDir()).catch(() => undefined);
    pruneCgroupParent(t.cgroupParent, this.paths.cgroupRoot);
  }
}
