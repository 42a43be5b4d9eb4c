// The mount helper's tree operations (Python, part of MOUNT_HELPER_SCRIPT): everything the host
// does inside a tree a container writes (its root, a volume) goes by file descriptor. Paths are
// resolved inside the tree (openat2 RESOLVE_IN_ROOT, else a component walk that refuses symbolic
// links and ".."), and owner shifts never follow a link or leave the mount they started on, so a
// symlink a container planted cannot lead host root outside the tree.

/** Tree operations (Python, run by the mount helper): resolution inside a root, mkdir there, the owner shift. */
export const TREE_OPS = String.raw`
def parts_of(rel):
    parts = [p for p in rel.split('/') if p not in ('', '.')]
    return parts
def open_in_root(rootfd, rel, flags):
    # rel resolved with rootfd as "/" (symlinks included); never outside it, never into another mount.
    rel = '/'.join(parts_of(rel)) or '.'
    how = struct.pack('QQQ', flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
    fd = libc.syscall(OPENAT2, rootfd, rel.encode(), how, 24)
    if fd >= 0: return fd
    e = ctypes.get_errno()
    if e != E.ENOSYS: raise OSError(e, os.strerror(e), rel)
    # No openat2 (Linux < 5.6): one component at a time, refusing symbolic links and "..".
    cur = os.dup(rootfd)
    parts = parts_of(rel)
    for i, p in enumerate(parts):
        try:
            if p == '..': raise Fail('%s: ".." is refused inside a container tree on this kernel' % rel)
            nxt = os.open(p, (flags if i == len(parts) - 1 else os.O_PATH | os.O_DIRECTORY) | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur)
        finally:
            os.close(cur)
        cur = nxt
    return cur
def mkdirs_in_root(root, rel, uid, gid):
    # mkdir -p of rel inside root; what it makes belongs to uid:gid; symlinks resolve inside root.
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        todo = parts_of(rel)
        done = []
        hops = 0
        while todo:
            sub = '/'.join(done + todo[:1])
            try:
                os.close(open_in_root(rootfd, sub, os.O_PATH | os.O_DIRECTORY))
                done.append(todo.pop(0))
                continue
            except OSError as e:
                if e.errno != E.ENOENT: raise Fail('cannot use /%s inside the container: %s' % (sub, os.strerror(e.errno)))
            parent = open_in_root(rootfd, '/'.join(done), os.O_PATH | os.O_DIRECTORY)
            try:
                os.mkdir(todo[0], 0o755, dir_fd=parent)
                os.chown(todo[0], int(uid), int(gid), dir_fd=parent, follow_symlinks=False)
            except FileExistsError:
                # A dangling symbolic link: follow it inside the root (as runc does for mount points).
                hops += 1
                if hops > 40: raise Fail('too many symbolic links under /%s inside the container' % sub)
                try: target = os.readlink(todo[0], dir_fd=parent)
                except OSError: raise Fail('/%s inside the container is not a directory' % sub)
                base = [] if target.startswith('/') else done
                todo = parts_of('/'.join(base + [target])) + todo[1:]
                done = []
            finally:
                os.close(parent)
    finally:
        os.close(rootfd)
def shift(root, rel, host, size, fhost, fsize):
    # Move every owner under root/rel into [host, host+size) (see shiftId in container-root.ts) by
    # file descriptor: no symbolic link followed, no other mount entered; setuid/setgid bits kept.
    host, size, fhost, fsize = int(host), int(size), int(fhost), int(fsize)
    def sid(i):
        if host <= i < host + size: return i
        if fsize and fhost <= i < fhost + fsize:
            return host + (i - fhost) if i - fhost < size else host + 65534
        return host + i if i < size else host + 65534
    count = [0]
    def fix_fd(fd, st):
        u, g = sid(st.st_uid), sid(st.st_gid)
        if (u, g) == (st.st_uid, st.st_gid): return
        os.fchown(fd, u, g)
        if S.S_ISREG(st.st_mode) and st.st_mode & 0o6000: os.fchmod(fd, st.st_mode & 0o7777)
        count[0] += 1
    def open_dir(dirfd, name):
        how = struct.pack('QQQ', os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)
        fd = libc.syscall(OPENAT2, dirfd, name.encode(errors='surrogateescape'), how, 24)
        if fd >= 0: return fd
        e = ctypes.get_errno()
        if e != E.ENOSYS: raise OSError(e, os.strerror(e), name)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        if os.fstat(fd).st_dev != os.fstat(dirfd).st_dev:
            os.close(fd)
            raise OSError(E.EXDEV, 'another filesystem', name)
        return fd
    def entries(dirfd):
        # Shift the non-directories of dirfd; return the names of its subdirectories.
        dirs = []
        with os.scandir(dirfd) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                    if S.S_ISDIR(st.st_mode):
                        dirs.append(e.name)
                        continue
                    u, g = sid(st.st_uid), sid(st.st_gid)
                    if (u, g) == (st.st_uid, st.st_gid): continue
                    if S.S_ISREG(st.st_mode) and st.st_mode & 0o6000:
                        fd = os.open(e.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=dirfd)
                        try:
                            fst = os.fstat(fd)
                            if S.S_ISREG(fst.st_mode): fix_fd(fd, fst)
                        finally:
                            os.close(fd)
                    else:
                        os.chown(e.name, u, g, dir_fd=dirfd, follow_symlinks=False)
                        count[0] += 1
                except FileNotFoundError:
                    pass
        return dirs
    rootfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try: top = open_in_root(rootfd, rel, os.O_RDONLY | os.O_DIRECTORY)
    finally: os.close(rootfd)
    fix_fd(top, os.fstat(top))
    stack = [(top, entries(top))]
    while stack:
        fd, names = stack[-1]
        if not names:
            os.close(fd)
            stack.pop()
            continue
        name = names.pop()
        try: child = open_dir(fd, name)
        except OSError as e:
            if e.errno in (E.ENOENT, E.ELOOP, E.ENOTDIR, E.EXDEV): continue
            raise
        try:
            fix_fd(child, os.fstat(child))
            sub = entries(child)
        except BaseException:
            os.close(child)
            raise
        stack.append((child, sub))
    return count[0]
`;
