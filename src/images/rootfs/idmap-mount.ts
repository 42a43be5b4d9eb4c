// An idmapped bind mount (Linux ≥ 5.12, mount_setattr(2) with MOUNT_ATTR_IDMAP): the image
// tree seen with every owner moved into a container's id range, without touching a file.
// overlayfs accepts such a mount as its lower layer (Linux ≥ 5.19), so a container root costs
// two mounts whatever the image's size, where shifting owners through the overlay (metacopy)
// costs a copied-up inode per entry. util-linux 2.38 (Debian 12) has no X-mount.idmap and
// Node cannot make these system calls, so a short Python program (Debian's python3, standard
// library only) does: it makes a user namespace with the mapping in a forked child, takes its
// fd, clones the tree (open_tree), sets the idmap and moves the clone into place. It stays
// running while requests come (one JSON line each on stdin, one answer line on stdout), as
// starting Python costs more than the mount itself; it exits after a few idle seconds. An
// error answer names the failing call and errno (EINVAL: the filesystem does not support
// idmapped mounts; ENOSYS: the kernel is too old).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { HostCommandError } from '../../core/errors.js';
import type { IdShift } from './container-root.js';

/** The Python server: reads [src, dst, hostId, size] lines, answers "ok" or a one-line error. */
export const IDMAP_MOUNT_SCRIPT = String.raw`
import ctypes, json, os, platform, signal, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
OPEN_TREE, MOVE_MOUNT, MOUNT_SETATTR = {'x86_64': (428, 429, 442), 'aarch64': (428, 429, 442)}[platform.machine()]
class Fail(Exception): pass
def fail(what):
    e = ctypes.get_errno()
    raise Fail('%s: %s (%s)' % (what, os.strerror(e), {22: 'EINVAL', 38: 'ENOSYS', 1: 'EPERM'}.get(e, e)))
def userns(host, size):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.write(w, b'1' if libc.unshare(0x10000000) == 0 else b'0')
        os.close(w)
        signal.pause()
        os._exit(0)
    os.close(w)
    try:
        if os.read(r, 1) != b'1': raise Fail('unshare(CLONE_NEWUSER) failed')
        for f in ('uid_map', 'gid_map'):
            with open('/proc/%d/%s' % (pid, f), 'w') as fh: fh.write('0 %d %d\n' % (host, size))
        return os.open('/proc/%d/ns/user' % pid, os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(r)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
def mount(src, dst, host, size):
    ns = userns(host, size)
    fd = -1
    try:
        fd = libc.syscall(OPEN_TREE, -100, src.encode(), 1 | 0o2000000)
        if fd < 0: fail('open_tree')
        attr = ctypes.create_string_buffer(struct.pack('QQQQ', 0x100000, 0, 0, ns))
        if libc.syscall(MOUNT_SETATTR, fd, b'', 0x1000, attr, 32) != 0: fail('mount_setattr')
        if libc.syscall(MOVE_MOUNT, fd, b'', -100, dst.encode(), 4) != 0: fail('move_mount')
    finally:
        os.close(ns)
        if fd >= 0: os.close(fd)
for line in sys.stdin:
    try:
        src, dst, host, size = json.loads(line)
        mount(src, dst, int(host), int(size))
        out = 'ok'
    except Exception as e:
        out = str(e).replace('\n', ' ') or type(e).__name__
    sys.stdout.write(out + '\n')
    sys.stdout.flush()
`;

/** Runs the server on demand and sends it one request at a time. */
export class IdmapMounter {
  private child?: ChildProcessWithoutNullStreams;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer?: NodeJS.Timeout;

  constructor(private readonly python = 'python3', private readonly idleMs = 5000) {}

  /**
   * Mount `src` at the existing directory `dst` with owner id N shown as shift.hostId+N (N <
   * shift.size); ids outside [0, size) appear as the overflow id. Throws HostCommandError with
   * the program's one-line reason when the kernel or filesystem cannot.
   */
  mount(src: string, dst: string, shift: IdShift): Promise<void> {
    const run = this.queue.then(() => this.request([src, dst, shift.hostId, shift.size]));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** End the server now (it also ends by itself when idle, or when this process exits). */
  close(): void {
    clearTimeout(this.idleTimer);
    this.child?.stdin.end();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.python, ['-I', '-S', '-c', IDMAP_MOUNT_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    return child;
  }

  private async request(args: [string, string, number, number]): Promise<void> {
    clearTimeout(this.idleTimer);
    const child = (this.child ??= this.start());
    child.ref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { ref?: () => void }[]) s.ref?.();
    try {
      const answer = await new Promise<string>((resolve) => {
        let out = '';
        let err = '';
        const onOut = (b: Buffer) => {
          out += b.toString();
          if (out.includes('\n')) done(out.slice(0, out.indexOf('\n')));
        };
        const onErr = (b: Buffer) => (err += b.toString());
        const onExit = (code: number | null) => done(`the idmap helper exited (${code}): ${err.trim().split('\n').pop() ?? ''}`);
        const done = (line: string) => {
          child.stdout.off('data', onOut);
          child.stderr.off('data', onErr);
          child.off('exit', onExit);
          resolve(line);
        };
        child.stdout.on('data', onOut);
        child.stderr.on('data', onErr);
        child.once('exit', onExit);
        child.stdin.write(`${JSON.stringify(args)}\n`);
      });
      if (answer !== 'ok') throw new HostCommandError([this.python, 'idmap-mount', args[0], args[1]], 1, answer);
    } finally {
      // Idle: neither the server nor its pipes keep this process alive, and it ends after idleMs.
      if (this.child === child) {
        child.unref();
        for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
        this.idleTimer = setTimeout(() => this.close(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }
}

/** The process-wide mounter (one server for every container root). */
export const idmapMounter = new IdmapMounter();
