// The seccomp profile of a nimbo container: an allow list in the manner of Docker's default
// profile (moby profiles/seccomp/default.json): every syscall not named fails with EPERM.
// https://docs.docker.com/engine/security/seccomp/ , seccomp_rule_add(3) for the argument filters.
//
// Both kinds share BASE_ALLOW: the ordinary process, file, memory, signal, socket and time calls.
// What an application container never gets (nor does Docker's default profile without
// CAP_SYS_ADMIN): new namespaces of any kind (unshare, setns, clone/clone3 with CLONE_NEW*
// flags: a nested user namespace is the entry point of many kernel exploits), mount/umount and
// the new mount API, pivot_root, sethostname, reboot.
// What a system container (systemd, busybox init) gets on top, SYSTEM_ALLOW, and why:
// - mount, umount2, the new mount API, pivot_root, unshare, setns, clone/clone3 with any flags:
//   systemd sets up service sandboxes (PrivateTmp, ProtectSystem, ...) in mount namespaces of
//   its own. They act inside the container's user namespace, which owns its mount namespace:
//   no host mount can be changed, and mounts the runtime made before that namespace existed
//   stay locked (see the masks test).
// - sethostname/setdomainname: the container has its own UTS namespace (hostnamectl, boot).
// - reboot: in a pid namespace it only ends the container's init (how systemd powers off).
// - kcmp (systemd compares file descriptors), fanotify_init, statmount/listmount.
// Denied to both kinds (not listed): kernel keyrings (add_key, keyctl, request_key: not
// namespaced; systemd runs without them, as under Docker), bpf, perf_event_open, userfaultfd,
// module loading, kexec, open_by_handle_at, lookup_dcookie, quotactl, acct, swapon/swapoff,
// clock/time setting, syslog (the host's kernel log), iopl/ioperm, vm86, _sysctl, uselib.
// io_uring_* answer ENOSYS (programs fall back to ordinary syscalls), and so does clone3 for
// application containers (its flags sit in memory seccomp cannot read: glibc falls back to
// clone, whose flags are filtered). runc answers ENOSYS, not EPERM, for syscalls newer than any
// named here, so a new libc probing a new call falls back as well.
import type { OciSeccomp, OciSeccompRule } from './oci-types.js';

/** Errno values the profile returns. */
export const EPERM = 1;
export const ENOSYS = 38;

/** Seccomp architectures per host arch (the native one and its compat ABIs). */
export const SECCOMP_ARCHES: Record<'amd64' | 'arm64', string[]> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/** Syscalls every container may make (names for every ABI of SECCOMP_ARCHES; unknown ones are ignored by runc). */
export const BASE_ALLOW: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget', 'capset', 'chdir',
  'chmod', 'chown', 'chown32', 'chroot', 'clock_getres', 'clock_getres_time64', 'clock_gettime', 'clock_gettime64',
  'clock_nanosleep', 'clock_nanosleep_time64', 'close', 'close_range', 'connect', 'copy_file_range', 'creat',
  'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait',
  'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit',
  'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark', 'fchdir',
  'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync',
  'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat', 'fstat64', 'fstatat64',
  'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futex', 'futex_requeue', 'futex_time64',
  'futex_wait', 'futex_waitv', 'futex_wake', 'futimesat', 'get_mempolicy', 'get_robust_list', 'get_thread_area',
  'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid',
  'getgid32', 'getgroups', 'getgroups32', 'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid',
  'getpriority', 'getrandom', 'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'getrusage',
  'getsid', 'getsockname', 'getsockopt', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr',
  'getxattrat', 'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel',
  'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup', 'io_submit', 'ioctl',
  'ioprio_get', 'ioprio_set', 'ipc', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
  'landlock_restrict_self', 'lchown', 'lchown32', 'lgetxattr', 'link', 'linkat', 'listen', 'listxattr',
  'listxattrat', 'llistxattr', '_llseek', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64', 'madvise',
  'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod',
  'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect', 'mq_getsetattr', 'mq_notify',
  'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink',
  'mremap', 'mseal', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap',
  'name_to_handle_at', 'nanosleep', 'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll',
  'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'process_mrelease',
  'process_vm_readv', 'process_vm_writev', 'pselect6', 'pselect6_time64', 'ptrace', 'pwrite64', 'pwritev',
  'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg',
  'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'removexattrat', 'rename', 'renameat',
  'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask',
  'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam',
  'sched_setscheduler', 'sched_yield', 'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop',
  'semtimedop_time64', 'send', 'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto', 'set_robust_list',
  'set_thread_area', 'set_tid_address', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid',
  'setgid32', 'setgroups', 'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32',
  'setresgid', 'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'setsid',
  'setsockopt', 'setuid', 'setuid32', 'setxattr', 'setxattrat', 'shmat', 'shmctl', 'shmdt', 'shmget',
  'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn', 'socketcall', 'socketpair',
  'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range',
  'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun',
  'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime',
  'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate', 'truncate64',
  'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes',
  'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
];

/** Calls that exist on one architecture only. */
export const ARCH_ALLOW: Record<'amd64' | 'arm64', readonly string[]> = {
  amd64: ['arch_prctl', 'modify_ldt'],
  arm64: ['arm_fadvise64_64', 'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls', 'sync_file_range2'],
};

/** What a system container's init needs on top of BASE_ALLOW (see the header for why each is safe). */
export const SYSTEM_ALLOW: readonly string[] = [
  'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'kcmp', 'listmount', 'mount',
  'mount_setattr', 'move_mount', 'open_tree', 'pivot_root', 'reboot', 'setdomainname', 'sethostname', 'setns',
  'statmount', 'umount', 'umount2', 'unshare',
];

/** Calls answered ENOSYS instead of EPERM (callers fall back to older calls). */
export const ENOSYS_CALLS: readonly string[] = ['io_uring_enter', 'io_uring_register', 'io_uring_setup'];

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: the namespace flags an application's clone must not carry. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** personality(2) values allowed (PER_LINUX, PER_LINUX32, UNAME26 variants, and the 0xffffffff query), as Docker does. */
export const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff] as const;

/** AF_VSOCK: sockets to the hypervisor are refused. */
export const AF_VSOCK = 40;

/** The seccomp section of config.json for a container kind on an arch (pure; a fresh object each call). */
export function renderSeccomp(kind: 'system' | 'app', arch: 'amd64' | 'arm64'): OciSeccomp {
  const allow = [...BASE_ALLOW, ...ARCH_ALLOW[arch], ...(kind === 'system' ? SYSTEM_ALLOW : [])].sort();
  const rules: OciSeccompRule[] = [
    { names: allow, action: 'SCMP_ACT_ALLOW' },
    ...PERSONALITIES.map((value): OciSeccompRule => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] })),
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
  ];
  if (kind === 'app') {
    // Threads and forks, but no new namespace: (flags & CLONE_NEW*) == 0.
    rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] });
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  rules.push({ names: [...ENOSYS_CALLS], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: [...SECCOMP_ARCHES[arch]], syscalls: rules };
}
