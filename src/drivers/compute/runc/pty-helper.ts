/*
 * Interactive (tty) exec without a shell string.
 *
 * `runc exec -t` in the foreground wants its own stdin to be a terminal (it puts it in raw mode
 * and relays it to the container's pty); detached (`-d`) it wants a --console-socket that
 * receives the pty master over SCM_RIGHTS. Node can neither allocate a pty (no openpty/ioctl)
 * nor receive file descriptors on a unix socket, so a helper owns the host-side pty:
 *
 *   python3 -I -c PTY_HELPER ROWS COLS runc --root R exec -t ID ARGS...
 *
 * PTY_HELPER is a fixed program (never built from input); the command travels as argv.
 * It forks the command on a new pty (new session, pty as controlling terminal, raw mode and
 * window size set before exec: the host-side pty must be a transparent byte pipe, line
 * discipline and echo happen on the container's pty; runc would set raw mode itself, but only
 * after the process started, so early input would be echoed and early output get CR/LF
 * translated twice), relays stdin -> pty and pty -> stdout as raw bytes, reads "ROWS COLS\n" lines
 * from fd 3 and applies them to the pty (the kernel sends SIGWINCH to runc, which resizes the
 * container's pty), and exits with the command's exit code (128+N when killed by signal N).
 * Killing the helper closes the pty master: runc gets SIGHUP and forwards it to the process.
 * With NIMBO_PTY_HOLD=FILE in its environment it holds stdin until FILE exists (at most 5 s)
 * and removes FILE at the end: runc exec writes its --pid-file once the process runs, and input
 * that reaches the container's pty before that is echoed but lost to the process.
 *
 * Alternatives measured on Debian 12: util-linux `script -c` and socat `EXEC:` take a command
 * string; `unbuffer` (expect) is Tcl and also string-based; node-pty 1.1 installs and works here
 * (prebuilt binary) but returns an IPty, not a ChildProcess, and is a native dependency.
 * python3 (python3-minimal, standard on Debian/Ubuntu/Fedora) is the lighter requirement.
 */
export const PTY_HELPER = `
import fcntl, os, pty, select, signal, struct, sys, termios, time, tty
rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def size(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
pid, master = pty.fork()
if pid == 0:
    try:
        tty.setraw(0)
        size(0, rows, cols)
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ('nimbo-pty: %s: %s\\r\\n' % (argv[0], e.strerror)).encode())
    os._exit(127)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
def writeall(fd, b):
    while b:
        b = b[os.write(fd, b):]
src = [0, master]
try:
    os.fstat(3)
    src.append(3)
except OSError:
    pass
ctl = b''
holdpath = hold = os.environ.get('NIMBO_PTY_HOLD')
held = b''
deadline = time.time() + 5
while True:
    if hold and (os.path.exists(hold) or time.time() > deadline):
        hold = None
        writeall(master, held)
        held = b''
    ready = select.select(src, [], [], 0.01 if hold else None)[0]
    if master in ready:
        try:
            d = os.read(master, 65536)
        except OSError:
            d = b''
        if not d:
            break
        writeall(1, d)
    if 0 in ready:
        try:
            d = os.read(0, 65536)
        except OSError:
            d = b''
        if d and hold:
            held += d
        elif d:
            writeall(master, d)
        else:
            src.remove(0)
    if 3 in ready:
        try:
            d = os.read(3, 4096)
        except OSError:
            d = b''
        if not d:
            src.remove(3)
        ctl += d
        while b'\\n' in ctl:
            line, ctl = ctl.split(b'\\n', 1)
            try:
                r, c = map(int, line.split())
                size(master, r, c)
            except (ValueError, OSError):
                pass
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
if holdpath:
    try: os.unlink(holdpath)
    except OSError: pass
sys.exit(128 - code if code < 0 else code)
`;

/** The helper's argv (after the interpreter): -I (isolated: no PYTHON* env, no user site) -c PROGRAM ROWS COLS COMMAND... */
export function ptyHelperArgs(rows: number, cols: number, command: string[]): string[] {
  return ['-I', '-c', PTY_HELPER, String(rows), String(cols), ...command];
}
