// An idmapped bind mount (Linux ≥ 5.12, mount_setattr(2) with MOUNT_ATTR_IDMAP): the image
// tree seen with every owner moved into a container's id range, without touching a file.
// overlayfs accepts such a mount as its lower layer (Linux ≥ 5.19), so a container root costs
// two mounts whatever the image's size, where shifting owners through the overlay (metacopy)
// costs a copied-up inode per entry. util-linux 2.38 (Debian 12) has no X-mount.idmap and
// Node cannot make these system calls, so a short Python program (Debian's python3, no
// modules beyond the standard library) does: it makes a user namespace with the mapping in a
// forked child, takes its fd, clones the tree (open_tree), sets the idmap and moves the clone
// into place. Its one-line error names the failing call and errno (EINVAL: the filesystem
// does not support idmapped mounts; ENOSYS: the kernel is too old).
import type { HostExec } from '../../host/exec.js';
import { HostCommandError } from '../../core/errors.js';
import type { IdShift } from './container-root.js';

/** The Python program: argv SRC DST HOSTID SIZE (x86_64 and aarch64 system call numbers). */
export const IDMAP_MOUNT_SCRIPT = String.raw`
import ctypes, os, platform, signal, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
OPEN_TREE, MOVE_MOUNT, MOUNT_SETATTR = {'x86_64': (428, 429, 442), 'aarch64': (428, 429, 442)}[platform.machine()]
src, dst, host, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def fail(what):
    e = ctypes.get_errno()
    sys.stderr.write('%s: %s (%s)\n' % (what, os.strerror(e), {22: 'EINVAL', 38: 'ENOSYS', 1: 'EPERM'}.get(e, e)))
    sys.exit(3)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    ok = libc.unshare(0x10000000) == 0
    os.write(w, b'1' if ok else b'0')
    os.close(w)
    signal.pause()
    os._exit(0)
os.close(w)
ok = os.read(r, 1) == b'1'
try:
    if not ok:
        sys.stderr.write('unshare(CLONE_NEWUSER) failed\n')
        sys.exit(3)
    for f in ('uid_map', 'gid_map'):
        with open('/proc/%d/%s' % (pid, f), 'w') as fh:
            fh.write('0 %d %d\n' % (host, size))
    ns = os.open('/proc/%d/ns/user' % pid, os.O_RDONLY | os.O_CLOEXEC)
finally:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
fd = libc.syscall(OPEN_TREE, -100, src.encode(), 1 | 0o2000000)
if fd < 0: fail('open_tree')
attr = ctypes.create_string_buffer(struct.pack('QQQQ', 0x100000, 0, 0, ns))
if libc.syscall(MOUNT_SETATTR, fd, b'', 0x1000, attr, 32) != 0: fail('mount_setattr')
if libc.syscall(MOVE_MOUNT, fd, b'', -100, dst.encode(), 4) != 0: fail('move_mount')
`;

/**
 * Mount `src` at the existing directory `dst` with owner id N shown as shift.hostId+N (N <
 * shift.size); ids outside [0, size) appear as the overflow id. Throws HostCommandError with
 * the program's one-line reason when the kernel or filesystem cannot.
 */
export async function idmapMount(exec: HostExec, src: string, dst: string, shift: IdShift, python = 'python3'): Promise<void> {
  const argv = [python, '-I', '-S', '-c', IDMAP_MOUNT_SCRIPT, src, dst, String(shift.hostId), String(shift.size)];
  const r = await exec.run(argv, { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) throw new HostCommandError([python, 'idmap-mount', src, dst], r.code, r.stderr.trim() || `exit ${r.code}`);
}
