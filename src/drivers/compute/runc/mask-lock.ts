// Locks a created container's /proc and /sys mount trees (runc's masks and read-only paths
// with them), so that root inside, even with CAP_SYS_ADMIN over its own namespaces (system
// containers), can neither unmount a mask nor mount a fresh, unmasked procfs or sysfs.
//
// Why: runc makes the container's mount namespace inside its user namespace and mounts /proc,
// /sys and the masks there, so none of them is locked: they may be unmounted, and the kernel
// lets a new procfs/sysfs be mounted while the existing one has no *locked* mount over a
// non-empty entry (fs/namespace.c mnt_already_visible). When a mount tree propagates from a
// more privileged mount namespace into a less privileged one, the kernel locks (MNT_LOCKED)
// every mount of the copy below its root (attach_recursive_mnt, lock_mnt_tree). So, between
// `runc create` and `runc start`, with the container's init still waiting:
//   1. a child joins the container's mount namespace, makes its root mount shared, and clones
//      it (non-recursive) and the /proc and /sys trees (recursive: masks, read-only paths and
//      /sys/fs/cgroup come along);
//   2. the host attaches the clones under a private temp dir and bind-mounts each tree onto
//      proc/ and sys/ of the root clone: the bind propagates into the container as a copy
//      tucked under runc's /proc and /sys, its masks locked;
//   3. the host leaves the peer group and unmounts its clones; the child unmounts runc's own
//      (unlocked) /proc and /sys above the copies and makes the root private again.
// Unmounting the whole /proc then leaves no procfs at all, and a new one is refused.
import type { HostExec } from '../../../host/exec.js';

/** The Python program (standard library only): argv = pid, the trees to lock (/proc /sys). Prints "ok". */
export const MASK_LOCK_PY = String.raw`
import ctypes, os, socket, sys, tempfile
libc = ctypes.CDLL(None, use_errno=True)
OPEN_TREE, MOVE_MOUNT = 428, 429
MS_BIND, MS_REC, MS_PRIVATE, MS_SHARED = 4096, 16384, 1 << 18, 1 << 20
CLONE, CLOEXEC, RECURSIVE = 1, 0o2000000, 0x8000
def fail(what):
    e = ctypes.get_errno()
    raise OSError(e, '%s: %s' % (what, os.strerror(e)))
def mount(src, dst, flags):
    if libc.mount(src and src.encode(), dst.encode(), None, ctypes.c_ulong(flags), None) != 0: fail('mount %s' % dst)
def umount(p):
    if libc.umount2(p.encode(), 2) != 0: fail('umount %s' % p)
def clone(p, flags):
    fd = libc.syscall(OPEN_TREE, -100, p.encode(), CLONE | CLOEXEC | flags)
    if fd < 0: fail('open_tree %s' % p)
    return fd
pid, tops = int(sys.argv[1]), sys.argv[2:]
mntns = os.open('/proc/%d/ns/mnt' % pid, os.O_RDONLY | os.O_CLOEXEC)
def in_container(fn):
    a, b = socket.socketpair()
    child = os.fork()
    if child == 0:
        try:
            a.close()
            if libc.setns(mntns, 0x20000) != 0: fail('setns')
            socket.send_fds(b, [b'ok'], fn())
            os._exit(0)
        except Exception as e:
            b.sendall(('err ' + str(e)).encode()[:2000]); os._exit(1)
    b.close()
    msg, fds, _, _ = socket.recv_fds(a, 4096, 8)
    os.waitpid(child, 0)
    if msg != b'ok': raise OSError(msg.decode(errors='replace'))
    return fds
def clones():
    mount(None, '/', MS_SHARED)
    return [clone('/', 0)] + [clone(t, RECURSIVE) for t in tops]
fds = in_container(clones)
work = tempfile.mkdtemp(prefix='nimbo-masklock-')
mount(work, work, MS_BIND)
mount(None, work, MS_PRIVATE)
try:
    names = ['root'] + ['t%d' % i for i in range(len(tops))]
    for n, fd in zip(names, fds):
        os.mkdir(os.path.join(work, n))
        if libc.syscall(MOVE_MOUNT, fd, b'', -100, os.path.join(work, n).encode(), 4) != 0: fail('move_mount %s' % n)
        os.close(fd)
    for i, t in enumerate(tops):
        # Propagates into the container: a copy under runc's tree, every submount locked.
        mount(os.path.join(work, 't%d' % i), os.path.join(work, 'root') + t, MS_BIND | MS_REC)
    mount(None, work, MS_PRIVATE | MS_REC)
finally:
    libc.umount2(work.encode(), 2)
    for n in os.listdir(work): os.rmdir(os.path.join(work, n))
    os.rmdir(work)
def finish():
    for t in tops: umount(t)  # runc's unlocked tree, now above the locked copy
    mount(None, '/', MS_PRIVATE)
    return []
in_container(finish)
print('ok')
`;

/** Locks /proc and /sys of the created (not yet started) container whose init is pid. */
export async function lockMasks(exec: HostExec, python: string, pid: number, tops: readonly string[] = ['/proc', '/sys']): Promise<void> {
  await exec.run([python, '-I', '-c', MASK_LOCK_PY, String(pid), ...tops], { timeoutMs: 30_000 });
}
