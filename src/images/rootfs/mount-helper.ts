// Mounts the new mount API makes possible and util-linux 2.38 (Debian 12) / Node cannot:
// - idmap: an idmapped bind mount (Linux ≥ 5.12, mount_setattr(2) with MOUNT_ATTR_IDMAP): the
//   image tree seen with every owner moved into a container's id range, without touching a
//   file. overlayfs takes it as its lower layer (Linux ≥ 5.19), so a container root costs two
//   mounts whatever the image's size, where shifting owners through the overlay (metacopy)
//   costs a copied-up inode per entry.
// - inject / eject: a bind mount of a host directory put into (or taken out of) a running
//   container's mount namespace: the tree is cloned in the host's namespace (open_tree), then a
//   forked child joins the container's (setns) and attaches it (move_mount) — how volumes are
//   hot-plugged into containers.
// A short Python program (Debian's python3, standard library only) makes the system calls. It
// stays running while requests come (one JSON line each on stdin, one answer line on stdout), as
// starting Python costs more than a mount; it exits after a few idle seconds. An error answer
// names the failing call and errno (EINVAL from mount_setattr: the filesystem does not support
// idmapped mounts; ENOSYS: the kernel is too old).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { HostCommandError } from '../../core/errors.js';
import type { IdShift } from './container-root.js';

/** The Python server: reads [op, ...args] lines, answers "ok" or a one-line error. */
export const MOUNT_HELPER_SCRIPT = String.raw`
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
def clone_tree(src):
    fd = libc.syscall(OPEN_TREE, -100, src.encode(), 1 | 0o2000000)
    if fd < 0: fail('open_tree')
    return fd
def attach(fd, dst):
    if libc.syscall(MOVE_MOUNT, fd, b'', -100, dst.encode(), 4) != 0: fail('move_mount')
def idmap(src, dst, host, size):
    ns = userns(int(host), int(size))
    fd = -1
    try:
        fd = clone_tree(src)
        attr = ctypes.create_string_buffer(struct.pack('QQQQ', 0x100000, 0, 0, ns))
        if libc.syscall(MOUNT_SETATTR, fd, b'', 0x1000, attr, 32) != 0: fail('mount_setattr')
        attach(fd, dst)
    finally:
        os.close(ns)
        if fd >= 0: os.close(fd)
def in_container(pid, fn):
    mnt = os.open('/proc/%d/ns/mnt' % int(pid), os.O_RDONLY | os.O_CLOEXEC)
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            if libc.setns(mnt, 0x20000) != 0: fail('setns')
            fn()
            msg = 'ok'
        except Exception as e:
            msg = str(e) or type(e).__name__
        os.write(w, msg.encode()[:4000])
        os._exit(0)
    os.close(w)
    os.close(mnt)
    msg = b''
    while True:
        b = os.read(r, 4096)
        if not b: break
        msg += b
    os.close(r)
    os.waitpid(child, 0)
    if msg != b'ok': raise Fail(msg.decode(errors='replace'))
def inject(pid, src, dst, uid):
    fd = clone_tree(src)
    def put():
        missing = []
        p = dst
        while not os.path.lexists(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            os.chown(d, int(uid), int(uid))
        attach(fd, dst)
    try:
        in_container(pid, put)
    finally:
        os.close(fd)
def eject(pid, dst):
    def take():
        if libc.umount2(dst.encode(), 2) != 0: fail('umount2')
    in_container(pid, take)
OPS = {'idmap': idmap, 'inject': inject, 'eject': eject}
for line in sys.stdin:
    try:
        req = json.loads(line)
        OPS[req[0]](*req[1:])
        out = 'ok'
    except Exception as e:
        out = str(e).replace('\n', ' ') or type(e).__name__
    sys.stdout.write(out + '\n')
    sys.stdout.flush()
`;

type Request = ['idmap', string, string, number, number] | ['inject', number, string, string, number] | ['eject', number, string];

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
  idmap(src: string, dst: string, shift: IdShift): Promise<void> {
    return this.send(['idmap', src, dst, shift.hostId, shift.size]);
  }

  /** Bind-mount host directory `src` at `dst` inside the mount namespace of process `pid`, making missing directories (owned by `owner`). */
  inject(pid: number, src: string, dst: string, owner: number): Promise<void> {
    return this.send(['inject', pid, src, dst, owner]);
  }

  /** Detach the mount at `dst` inside the mount namespace of process `pid` (lazily, like umount -l). */
  eject(pid: number, dst: string): Promise<void> {
    return this.send(['eject', pid, dst]);
  }

  /** End the server now (it also ends by itself when idle, or when this process exits). */
  close(): void {
    clearTimeout(this.idleTimer);
    this.child?.stdin.end();
    this.child = undefined;
  }

  /** One request after the ones before it; HostCommandError with the helper's one-line reason on failure. */
  private send(req: Request): Promise<void> {
    const run = this.queue.then(() => this.request(req));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.python, ['-I', '-S', '-c', MOUNT_HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    return child;
  }

  private async request(req: Request): Promise<void> {
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
      if (answer !== 'ok') throw new HostCommandError([this.python, 'mount-helper', ...req.map(String)], 1, answer);
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
