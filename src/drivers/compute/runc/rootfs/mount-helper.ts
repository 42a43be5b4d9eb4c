// Mounts the new mount API makes possible and util-linux 2.38 (Debian 12) / Node cannot:
// - idmap: an idmapped bind mount (Linux ≥ 5.12, mount_setattr(2) with MOUNT_ATTR_IDMAP): the
//   image tree seen with every owner moved into a container's id range, without touching a
//   file. overlayfs takes it as its lower layer (Linux ≥ 5.19), so a container root costs two
//   mounts whatever the image's size, where shifting owners through the overlay (metacopy)
//   costs a copied-up inode per entry.
// - inject: a bind mount of a host directory (nosuid,nodev) put into a running container's mount
//   namespace: the tree is cloned in the host's namespace (open_tree), then a forked child joins
//   the container's (setns) and attaches it (move_mount) — how volumes are hot-plugged.
// - detach: a volume taken out of every mount namespace that has it (copies the container made
//   included), never lazily: refused (Conflict, naming the processes) while anything holds it.
// - mkdirsInRoot / shiftTree: work inside a tree a container can write, by file descriptor, so
//   that no symbolic link it planted leads the host outside the tree (mount-helper-script.ts).
// A short Python program (Debian's python3, standard library only) makes the system calls. It
// stays running while requests come (one JSON line each on stdin, one answer line on stdout), as
// starting Python costs more than a mount; it exits after a few idle seconds. An error answer
// names the failing call and errno (EINVAL from mount_setattr: the filesystem does not support
// idmapped mounts; ENOSYS: the kernel is too old).
import type { ChildProcessWithoutNullStreams } from '../../../../host/spawn.js';
import { spawnPiped } from '../../../../host/spawn.js';
import { conflict, HostCommandError } from '../../../../lib/errors.js';
import type { IdShift } from './id-shift.js';
import { MOUNT_HELPER_SCRIPT } from './mount-helper-script.js';

export { MOUNT_HELPER_SCRIPT } from './mount-helper-script.js';

type Request = ['idmap', string, string, number, number] | ['inject', number, string, string, number] | ['detach', string] |
  ['volume_mounts', string] | ['volume_holders', string] | ['mkdirs_in_root', string, string, number, number] | ['shift', string, string, number, number, number, number];

/** A mount of a volume seen in another mount namespace: a process that sees it and where. */
export interface VolumeMount {
  pid: number;
  mountPoint: string;
}

/** Runs the server on demand and sends it one request at a time. */
export class MountHelper {
  private child?: ChildProcessWithoutNullStreams;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer?: NodeJS.Timeout;

  constructor(private readonly python = 'python3', private readonly idleMs = 5000) {}

  /**
   * Mount `src` at the existing directory `dst` with owner id N shown as shift.hostId+N (N <
   * shift.size); ids outside [0, size) appear as the overflow id.
   */
  async idmap(src: string, dst: string, shift: IdShift): Promise<void> {
    await this.send(['idmap', src, dst, shift.hostId, shift.size]);
  }

  /** Bind-mount host directory `src` at `dst` inside the mount namespace of process `pid`, making missing directories (owned by `owner`). */
  async inject(pid: number, src: string, dst: string, owner: number): Promise<void> {
    await this.send(['inject', pid, src, dst, owner]);
  }

  /**
   * Unmount host directory `dir` (and anything mounted on it) from every other mount namespace,
   * not lazily, so nothing in a container reaches it afterwards. Conflict naming the processes
   * (pid, command, how) while any holds it, or when a copy cannot be unmounted; nothing is
   * unmounted then unless a copy the container made itself was.
   */
  async detach(dir: string): Promise<void> {
    await this.send(['detach', dir]);
  }

  /** Where host directory `dir` is mounted in other mount namespaces (empty when no container can reach it). */
  async volumeMounts(dir: string): Promise<VolumeMount[]> {
    return (await this.send(['volume_mounts', dir])) as VolumeMount[];
  }

  /** The processes that still hold a mount of host directory `dir` (one sentence each: pid, command, how); empty when none. */
  async volumeHolders(dir: string): Promise<string[]> {
    return (await this.send(['volume_holders', dir])) as string[];
  }

  /** mkdir -p of `rel` resolved inside `root` (its symlinks too, never leaving it); what it makes belongs to owner:owner. */
  async mkdirsInRoot(root: string, rel: string, owner: number): Promise<void> {
    await this.send(['mkdirs_in_root', root, rel, owner, owner]);
  }

  /**
   * Move every owner under `rel` (resolved inside `root`) into `shift` (shiftId), by file
   * descriptor: no symlink followed, no other mount entered. Returns how many entries changed.
   */
  async shiftTree(root: string, rel: string, shift: IdShift, from?: IdShift): Promise<number> {
    return (await this.send(['shift', root, rel, shift.hostId, shift.size, from?.hostId ?? 0, from?.size ?? 0])) as number;
  }

  /** End the server now (it also ends by itself when idle, or when this process exits). */
  close(): void {
    clearTimeout(this.idleTimer);
    this.child?.stdin.end();
    this.child = undefined;
  }

  /** One request after the ones before it; its JSON result, Conflict for "busy", HostCommandError with the helper's one-line reason on failure. */
  private send(req: Request): Promise<unknown> {
    const run = this.queue.then(() => this.request(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawnPiped([this.python, '-I', '-S', '-c', MOUNT_HELPER_SCRIPT]);
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    return child;
  }

  private async request(req: Request): Promise<unknown> {
    clearTimeout(this.idleTimer);
    const child = (this.child ??= this.start());
    const streams = [child.stdin, child.stdout, child.stderr] as unknown as { ref?: () => void; unref?: () => void }[];
    child.ref();
    for (const s of streams) s.ref?.();
    try {
      const answer = await new Promise<string>((resolve) => {
        let out = '';
        let err = '';
        const onOut = (b: Buffer) => {
          out += b.toString();
          if (out.includes('\n')) done(out.slice(0, out.indexOf('\n')));
        };
        const onErr = (b: Buffer) => (err += b.toString());
        const onExit = (code: number | null) => done(`the mount helper exited (${code}): ${err.trim().split('\n').pop() ?? ''}`);
        const done = (line: string) => {
          child.stdout.off('data', onOut);
          child.stderr.off('data', onErr);
          child.off('exit', onExit);
          resolve(line);
        };
        child.stdout.on('data', onOut);
        child.stderr.on('data', onErr);
        child.once('exit', onExit);
        child.stdin.write(`${JSON.stringify(req)}\n`);
      });
      if (answer === 'ok') return undefined;
      if (answer.startsWith('ok ')) return JSON.parse(answer.slice(3)) as unknown;
      if (answer.startsWith('busy: ')) throw conflict(answer.slice('busy: '.length));
      throw new HostCommandError([this.python, 'mount-helper', ...req.map(String)], 1, answer);
    } finally {
      // Idle: neither the server nor its pipes keep this process alive, and it ends after idleMs.
      if (this.child === child) {
        child.unref();
        for (const s of streams) s.unref?.();
        this.idleTimer = setTimeout(() => this.close(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }
}

/** The process-wide helper (one server for every container). */
export const mountHelper = new MountHelper();
