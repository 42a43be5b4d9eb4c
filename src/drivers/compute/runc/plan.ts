// What the runc driver can do, and the container part of a create request: validated (the
// messages are the ones create gave before drivers existed), then an id range reserved.
import { invalid } from '../../../lib/errors.js';
import { parseBoundedSize } from '../../../lib/validate.js';
import type { DriverCapabilities, PlanInput } from '../instance-driver.js';
import { ID_BASE, ID_SIZE, type ContainerInfo } from './container-info.js';

/** The runc driver's capabilities. */
export const RUNC_CAPABILITIES: Readonly<DriverCapabilities> = Object.freeze({
  kind: 'container',
  root: 'filesystem',
  rootQuota: true,
  accelerator: false,
  processLimits: true,
  app: true,
  volumeKind: 'filesystem',
  volumeMountPath: true,
  liveDiskResize: false,
  unplugBootNics: true,
  snapshots: 'pool-volumes',
  statefulSnapshots: false,
  backup: 'filesystem',
  console: 'pty',
  exec: true,
  execHint: 'use ssh or the console',
});

/** Largest swap on top of the memory limit (the memory limit's own maximum). */
const SWAP_MAX = 256 * 1024 ** 3;
/** Most processes a container gets when the request names none. */
export const DEFAULT_PIDS = 2048;

/** The first host id of id-range slot n, and back. */
export const hostIdOfSlot = (n: number) => ID_BASE + n * ID_SIZE;
export const slotOfHostId = (hostId: number) => (hostId - ID_BASE) / ID_SIZE;

/** The signal that asks a container's init to power off: busybox init (tiny) SIGUSR2, systemd SIGRTMIN+4; an app its SIGTERM. */
export function stopSignalOf(image: string, app: boolean): string {
  return app ? 'SIGTERM' : image === 'tiny' ? 'SIGUSR2' : 'SIGRTMIN+4';
}

/** The validated limits and process of a create request, without ids (pure; throws InvalidArgument). */
export function checkPlan(req: PlanInput): Omit<ContainerInfo, 'hostId' | 'netns'> {
  if (req.pids !== undefined && (!Number.isInteger(req.pids) || req.pids < 16 || req.pids > 1_000_000)) throw invalid(`pids ${req.pids} must be an integer from 16 to 1000000`);
  if (req.cpuWeight !== undefined && (!Number.isInteger(req.cpuWeight) || req.cpuWeight < 1 || req.cpuWeight > 10000)) throw invalid(`cpuWeight ${req.cpuWeight} must be an integer from 1 to 10000`);
  const swapBytes = req.swap !== undefined ? parseBoundedSize(req.swap, 0, SWAP_MAX, 'swap') : undefined;
  // Block I/O throttles: bytes per second as sizes (at least 1 MiB/s), operations per second as counts.
  const rates = (req.diskRates ?? {}) as { readBps?: string | number; writeBps?: string | number; readIops?: number; writeIops?: number };
  const disk: NonNullable<ContainerInfo['disk']> = {};
  for (const k of ['readBps', 'writeBps'] as const) if (rates[k] !== undefined) disk[k] = parseBoundedSize(rates[k], 2 ** 20, 2 ** 50, `disk ${k === 'readBps' ? 'read' : 'write'} rate`);
  for (const k of ['readIops', 'writeIops'] as const) {
    const v = rates[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) throw invalid(`disk ${k === 'readIops' ? 'read' : 'write'} operations ${v} must be a positive integer`);
    disk[k] = v;
  }
  const app = req.app;
  if (app) {
    if (app.uid >= ID_SIZE || app.gid >= ID_SIZE) {
      const user = req.appUser ?? `${app.uid}:${app.gid}`;
      throw invalid(`user ${user} (uid ${app.uid}) is outside the container's ${ID_SIZE} ids`);
    }
  }
  return {
    kind: app ? 'app' : 'system',
    stopSignal: stopSignalOf(req.image, !!app),
    pids: req.pids ?? DEFAULT_PIDS,
    ...(req.cpuWeight !== undefined ? { cpuWeight: req.cpuWeight } : {}),
    ...(swapBytes !== undefined ? { swapBytes } : {}),
    ...(Object.keys(disk).length ? { disk } : {}),
    ...(app ? { app: { args: app.args, env: app.env, cwd: app.cwd, uid: app.uid, gid: app.gid, restart: app.restart } } : {}),
  };
}

/** The settings a copy keeps from its source's ContainerInfo (not its ids, nor what was observed of it: OOM kills, exit code). */
export function copiedSettings(from: unknown): Omit<ContainerInfo, 'hostId' | 'netns'> {
  const src = from as Partial<ContainerInfo> | null;
  if (!src || (src.kind !== 'system' && src.kind !== 'app') || typeof src.stopSignal !== 'string' || typeof src.pids !== 'number') {
    throw invalid('the source of the copy has no container settings');
  }
  const { kind, stopSignal, pids, cpuWeight, swapBytes, disk, app } = src;
  return {
    kind, stopSignal, pids,
    ...(cpuWeight !== undefined ? { cpuWeight } : {}),
    ...(swapBytes !== undefined ? { swapBytes } : {}),
    ...(disk ? { disk: { ...disk } } : {}),
    ...(app ? { app: { ...app, args: [...app.args], env: [...app.env] } } : {}),
  };
}

/** Validate (a copy: take its source's settings), then reserve an id range: the driverConfig of a new container. */
export async function planContainer(req: PlanInput, prefix: string): Promise<ContainerInfo> {
  const checked = req.from !== undefined ? copiedSettings(req.from) : checkPlan(req);
  const slot = await req.allocateId('id-range');
  const { kind, stopSignal, pids, ...rest } = checked;
  return { kind, hostId: hostIdOfSlot(slot), netns: `${prefix}-${req.uuid.slice(0, 8)}`, stopSignal, pids, ...rest };
}
