// The Python program behind mount-helper.ts (Debian's python3, standard library only): the
// system calls Node has no binding for. Requests are JSON arrays [op, ...args], one a line on
// stdin; each answer is one line on stdout: "ok", "ok <json>", "busy: <sentence>" (something
// still uses what was asked for) or a one-line error naming the failing call and errno.
//
// Mounts (MOUNT_OPS): idmapped bind mounts, bind mounts injected into a container's mount
// namespace (nosuid,nodev, like the cold ones in config.json), and the detach of a volume from
// every mount namespace that has it, refused while a process still holds it.
// Trees (TREE_OPS, tree-ops-script.ts): what the host does inside a tree a container writes.

import { TREE_OPS } from './tree-ops-script.js';

/** Shared preamble: libc, syscall numbers (the same on x86_64 and aarch64), errors. */
const PRELUDE = String.raw`
import ctypes, errno as E, json, os, platform, re, resource, signal, stat as S, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
OPEN_TREE, MOVE_MOUNT, OPENAT2, MOUNT_SETATTR = {'x86_64': (428, 429, 437, 442), 'aarch64': (428, 429, 437, 442)}[platform.machine()]
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH, RESOLVE_IN_ROOT = 1, 2, 4, 8, 16
MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_IDMAP = 2, 4, 0x100000
AT_EMPTY_PATH = 0x1000
class Fail(Exception): pass
class Busy(Exception): pass
def fail(what):
    e = ctypes.get_errno()
    raise Fail('%s: %s (%s)' % (what, os.strerror(e), {22: 'EINVAL', 38: 'ENOSYS', 1: 'EPERM', 16: 'EBUSY'}.get(e, e)))
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
except (ValueError, OSError):
    pass
`;

/** Mount operations: idmap, inject, detach (and the scan it shares with volume_mounts). */
const MOUNT_OPS = String.raw`
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
def setattr_fd(fd, attr_set, userns_fd=0):
    attr = ctypes.create_string_buffer(struct.pack('QQQQ', attr_set, 0, 0, userns_fd))
    if libc.syscall(MOUNT_SETATTR, fd, b'', AT_EMPTY_PATH, attr, 32) != 0: fail('mount_setattr')
def attach(fd, dst):
    if libc.syscall(MOVE_MOUNT, fd, b'', -100, dst.encode(), 4) != 0: fail('move_mount')
def idmap(src, dst, host, size):
    ns = userns(int(host), int(size))
    fd = -1
    try:
        fd = clone_tree(src)
        setattr_fd(fd, MOUNT_ATTR_IDMAP, ns)
        attach(fd, dst)
    finally:
        os.close(ns)
        if fd >= 0: os.close(fd)
def in_ns(nsfd, fn, rootfd=-1):
    # A forked child joins the mount namespace (and, given rootfd, a process's root in it) and runs fn.
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        try:
            if libc.setns(nsfd, 0x20000) != 0: fail('setns')
            if rootfd >= 0:
                os.fchdir(rootfd)
                os.chroot('.')
            fn()
            msg = 'ok'
        except Exception as e:
            msg = str(e) or type(e).__name__
        os.write(w, msg.encode()[:4000])
        os._exit(0)
    os.close(w)
    msg = b''
    while True:
        b = os.read(r, 4096)
        if not b: break
        msg += b
    os.close(r)
    os.waitpid(child, 0)
    if msg != b'ok': raise Fail(msg.decode(errors='replace'))
def in_container(pid, fn):
    mnt = os.open('/proc/%d/ns/mnt' % int(pid), os.O_RDONLY | os.O_CLOEXEC)
    try: in_ns(mnt, fn)
    finally: os.close(mnt)
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
            os.chown(d, int(uid), int(uid), follow_symlinks=False)
        attach(fd, dst)
    try:
        setattr_fd(fd, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
        in_container(pid, put)
    finally:
        os.close(fd)
def unesc(s):
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), s)
def mountinfo(path):
    # [(mount id, parent id, dev, root, mount point)]
    out = []
    with open(path, errors='surrogateescape') as fh:
        for line in fh:
            f = line.split(' ')
            if len(f) > 5: out.append((int(f[0]), int(f[1]), f[2], unesc(f[3]), unesc(f[4])))
    return out
def volume_identity(voldir):
    # The volume as mountinfo shows a bind mount of it anywhere: (dev, path inside its filesystem).
    real = os.path.realpath(voldir)
    if not os.path.isdir(real): raise Fail('%s is not a directory' % voldir)
    best = None
    for mid, parent, dev, root, mp in mountinfo('/proc/self/mountinfo'):
        if real == mp or real.startswith(mp.rstrip('/') + '/'):
            if best is None or len(mp) >= len(best[0]): best = (mp, dev, root)
    mp, dev, root = best
    return dev, os.path.normpath(os.path.join(root, real[len(mp):].lstrip('/')))
def namespaces():
    # {mount namespace inode: [pids]} of every process outside this one's namespace.
    own = os.stat('/proc/self/ns/mnt').st_ino
    out = {}
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try: ino = os.stat('/proc/%s/ns/mnt' % p).st_ino
        except OSError: continue
        if ino != own: out.setdefault(ino, []).append(int(p))
    return out
def volume_mounts_by_ns(voldir):
    # {ns: {mount id: (pid that sees it, its mount point there, depth)}}: the volume's mounts and every mount on top of them.
    dev, root = volume_identity(voldir)
    found = {}
    for ns, pids in namespaces().items():
        hits = {}
        roots = set()
        for pid in pids:
            # Each process sees the mounts under its own root: read each distinct root once.
            try:
                st = os.stat('/proc/%d/root' % pid)
                if (st.st_dev, st.st_ino) in roots: continue
                roots.add((st.st_dev, st.st_ino))
                mi = mountinfo('/proc/%d/mountinfo' % pid)
            except OSError: continue
            ids = set(m[0] for m in mi if m[2] == dev and (m[3] == root or m[3].startswith(root.rstrip('/') + '/')))
            ids |= set(hits)
            grew = True
            while grew:
                grew = False
                for m in mi:
                    if m[1] in ids and m[0] not in ids:
                        ids.add(m[0])
                        grew = True
            for i, m in enumerate(mi):
                if m[0] in ids and m[0] not in hits: hits[m[0]] = (pid, m[4], i)
        if hits: found[ns] = hits
    return found
def volume_mounts(voldir):
    return [{'pid': pid, 'mountPoint': mp} for hits in volume_mounts_by_ns(voldir).values() for (pid, mp, _) in hits.values()]
def mnt_id_of(path):
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        with open('/proc/self/fdinfo/%d' % fd) as fh:
            for line in fh:
                if line.startswith('mnt_id:'): return int(line.split()[1])
    finally:
        os.close(fd)
    return -1
def holders(pids, ids):
    # Processes with their working directory, root, an open file or a mapping on one of the mounts.
    out = []
    for pid in pids:
        what = []
        try:
            for link, name in (('cwd', 'its working directory'), ('root', 'its root directory')):
                try:
                    if mnt_id_of('/proc/%d/%s' % (pid, link)) in ids: what.append(name)
                except OSError: pass
            for n in os.listdir('/proc/%d/fdinfo' % pid):
                try:
                    with open('/proc/%d/fdinfo/%s' % (pid, n)) as fh:
                        if any(l.startswith('mnt_id:') and int(l.split()[1]) in ids for l in fh):
                            what.append('an open file')
                            break
                except OSError: pass
            for n in os.listdir('/proc/%d/map_files' % pid):
                try:
                    if mnt_id_of('/proc/%d/map_files/%s' % (pid, n)) in ids:
                        what.append('a mapped file')
                        break
                except OSError: pass
            if not what: continue
            with open('/proc/%d/comm' % pid) as fh: comm = fh.read().strip()
            with open('/proc/%d/status' % pid) as fh:
                nspid = [l.split()[1:] for l in fh if l.startswith('NSpid:')][0]
        except OSError:
            continue
        inner = nspid[1] if len(nspid) > 1 else str(pid)
        out.append('pid %s (%s, host pid %d) has %s there' % (inner, comm, pid, ' and '.join(what)))
    return out
def scan_holders(found):
    # The processes of the namespaces that have the volume which hold one of its mounts.
    ns_pids = namespaces()
    ids = set(i for hits in found.values() for i in hits)
    busy = []
    for ns in found:
        busy += holders(ns_pids.get(ns, []), ids)
    return ids, busy
def volume_holders(voldir):
    return scan_holders(volume_mounts_by_ns(voldir))[1]
def detach(voldir):
    # Unmount the volume (and what is mounted on it) from every other mount namespace, never lazily:
    # refused while a process holds it; repeated until no namespace has a copy of it.
    for _ in range(8):
        found = volume_mounts_by_ns(voldir)
        if not found: return
        ids, busy = scan_holders(found)
        if busy: raise Busy('the volume is in use: %s; end those processes (or move them out of it) and detach again' % '; '.join(busy[:8]))
        for ns, hits in found.items():
            for pid, mp, _ in sorted(hits.values(), key=lambda h: (h[1].count('/'), h[2]), reverse=True):
                try:
                    nsfd = os.open('/proc/%d/ns/mnt' % pid, os.O_RDONLY | os.O_CLOEXEC)
                    rootfd = os.open('/proc/%d/root' % pid, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                except OSError:
                    continue
                def take(mp=mp):
                    if libc.umount2(mp.encode(), 8) != 0 and ctypes.get_errno() != E.EINVAL: fail('umount2 ' + mp)
                try: in_ns(nsfd, take, rootfd)
                except Fail as e:
                    if 'EBUSY' not in str(e): raise
                    # Taken since the scan, or held from another namespace: name whoever holds it now.
                    named = holders([p for ps in namespaces().values() for p in ps], ids)
                    if named: raise Busy('the volume is in use: %s; end those processes (or move them out of it) and detach again' % '; '.join(named[:8]))
                    raise Busy('%s is busy in the container (a process uses it): detach again once it is done' % mp)
                finally:
                    os.close(nsfd)
                    os.close(rootfd)
    left = ['%s (seen by host pid %d)' % (mp, pid) for hits in volume_mounts_by_ns(voldir).values() for (pid, mp, _) in hits.values()]
    raise Busy('it is still mounted at %s, in a namespace nimbo cannot unmount it from: end the processes that made it' % ', '.join(left[:8]))
`;

const SERVER = String.raw`
OPS = {'idmap': idmap, 'inject': inject, 'detach': detach, 'volume_mounts': volume_mounts, 'volume_holders': volume_holders, 'mkdirs_in_root': mkdirs_in_root, 'shift': shift}
for line in sys.stdin:
    try:
        req = json.loads(line)
        res = OPS[req[0]](*req[1:])
        out = 'ok' if res is None else 'ok ' + json.dumps(res)
    except Busy as e:
        out = 'busy: ' + str(e).replace('\n', ' ')
    except Exception as e:
        out = str(e).replace('\n', ' ') or type(e).__name__
    sys.stdout.write(out + '\n')
    sys.stdout.flush()
`;

/** The Python server: reads [op, ...args] lines, answers "ok", "ok <json>", "busy: ..." or a one-line error. */
export const MOUNT_HELPER_SCRIPT = PRELUDE + MOUNT_OPS + TREE_OPS + SERVER;
