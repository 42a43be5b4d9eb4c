/*
 * Keeping a container init's exit code.
 *
 * `runc create` returns once init exists; init is then re-parented to the nearest subreaper (the
 * host's pid 1), so nobody learns how it ended. For restart policies like on-failure nimbo needs
 * that exit code, so for application containers `runc create` runs under this small shim:
 *
 *   python3 -I -c EXIT_SHIM EXITFILE PIDFILE RUNTIME --root R create --bundle B --pid-file PIDFILE ID
 *
 * The shim makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), runs the create, reports
 * "ok" (or the create's exit code) on fd 3, then waits for the container's init (now its child) and
 * writes {"exitCode": N} to EXITFILE (atomically: a temp file renamed) when it ends; 128+N when
 * killed by signal N. It runs in its own session, so it outlives a daemon restart. EXIT_SHIM is a
 * fixed program; the command travels as argv, never as a shell string.
 */
export const EXIT_SHIM = `
import ctypes, json, os, sys
exitfile, pidfile, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
pid = os.fork()
if pid == 0:
    os.close(3)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ('nimbo-shim: %s: %s\\n' % (argv[0], e.strerror)).encode())
    os._exit(127)
_, st = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(st)
if code != 0:
    os.write(3, ('failed %d\\n' % code).encode())
    sys.exit(code)
init = int(open(pidfile).read().strip())
os.write(3, b'ok\\n')
os.close(3)
while True:
    try:
        child, st = os.wait()
    except ChildProcessError:
        break
    if child == init:
        tmp = exitfile + '.tmp'
        with open(tmp, 'w') as f:
            f.write(json.dumps({'exitCode': os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)}) + '\\n')
        os.rename(tmp, exitfile)
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
