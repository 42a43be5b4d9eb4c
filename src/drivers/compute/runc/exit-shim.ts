/*
 * The container's supervisor: keeps init's exit code and its output log bounded.
 *
 * `runc create` returns once init exists; init is then re-parented to the nearest subreaper, so
 * nobody learns how it ended, and its stdout/stderr would be whatever runc was given. So
 * `runc create` runs under this small shim:
 *
 *   python3 -I -c EXIT_SHIM EXITFILE PIDFILE LOG MAXBYTES FIFO RUNTIME --root R create --bundle B [--pid-file PIDFILE] ID
 *
 * The shim makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER) and runs the create with
 * stdout and stderr on a pipe it reads (init inherits them). Everything read there, and from FIFO
 * (a system container's /.nimbo/console; opened read-write so it never ends or blocks a writer's
 * open), goes to LOG: past MAXBYTES LOG is renamed to LOG.1 and a fresh LOG begins, so at most
 * twice MAXBYTES stays on disk, however much the container writes, and the daemon never copies it.
 * It reports "ok" (or the create's exit code) on fd 3, then waits for init (now its child) and,
 * given an EXITFILE, writes {"exitCode": N} there (atomically: a temp file renamed) when init
 * ends; 128+N when killed by signal N. It ends once every holder of init's output is gone. It runs
 * in its own session, so it outlives a daemon restart. EXIT_SHIM is a fixed program; the command
 * travels as argv, never as a shell string. An empty EXITFILE, PIDFILE or FIFO means none.
 */
export const EXIT_SHIM = `
import ctypes, json, os, sys, threading
exitfile, pidfile, logpath, maxb, fifo, argv = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6:]
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.open()
    def open(self):
        self.fd = os.open(logpath, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self.fd).st_size
    def write(self, b):
        with self.lock:
            if len(b) > maxb:
                b = b[-maxb:]
            if self.size + len(b) > maxb:
                os.close(self.fd)
                try:
                    os.rename(logpath, logpath + '.1')
                except OSError:
                    pass
                self.open()
            while b:
                n = os.write(self.fd, b)
                b = b[n:]
                self.size += n
log = Log()
def pump(fd):
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            return
        if not b:
            return
        try:
            log.write(b)
        except OSError:
            pass
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(3)
    os.dup2(w, 1)
    os.dup2(w, 2)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ('nimbo-shim: %s: %s\\n' % (argv[0], e.strerror)).encode())
    os._exit(127)
os.close(w)
out = threading.Thread(target=pump, args=(r,))
out.start()
if fifo:
    threading.Thread(target=pump, args=(os.open(fifo, os.O_RDWR | os.O_CLOEXEC),), daemon=True).start()
_, st = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(st)
if code != 0:
    out.join(5)
    os.write(3, ('failed %d\\n' % code).encode())
    sys.exit(code)
init = int(open(pidfile).read().strip()) if pidfile else -1
os.write(3, b'ok\\n')
os.close(3)
while True:
    try:
        child, st = os.wait()
    except ChildProcessError:
        break
    if child == init and exitfile:
        tmp = exitfile + '.tmp'
        with open(tmp, 'w') as f:
            f.write(json.dumps({'exitCode': os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)}) + '\\n')
        os.rename(tmp, exitfile)
out.join()
`;

/** The exit code a shim recorded, or null (still running, or no shim). */
export function parseExitFile(text: string | null): number | null {
  if (!text) return null;
  try {
    const v = (JSON.parse(text) as { exitCode?: unknown }).exitCode;
    return typeof v === 'number' && Number.isInteger(v) ? v : null;
  } catch {
    return null;
  }
}
