// What every nimbo container gets by default: capabilities, seccomp deny lists, masked and
// read-only paths, and the device nodes of its /dev.

/** Docker's default capability set (the 14 it keeps), in Docker's order. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

/** Every capability name Linux 6.x knows (extraCapabilities must be one of these). */
export const KNOWN_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/*
 * Seccomp: defaultAction ALLOW plus an explicit deny list (EPERM), not Docker's allow list.
 * Why: every container already runs in a user namespace on an unprivileged host id range, so
 * the capability checks the kernel makes against the initial namespace (modules, kexec, clock,
 * swap, raw I/O ...) fail anyway; the list below closes the syscalls that stay reachable from
 * a user namespace and have a history of kernel exploits or leak host-global state (keyrings,
 * bpf, perf, userfaultfd, io_uring, the kernel log). An allow list breaks system containers
 * whenever their libc or systemd starts using a syscall the list does not know yet (the clone3
 * ENOSYS saga); a deny list does not.
 * Deliberately allowed: mount/umount2/pivot_root/unshare/setns/clone (namespaced by the user
 * namespace; systemd and nested sandboxes need them when given CAP_SYS_ADMIN), reboot (inside
 * a pid namespace it only ends the container's init: busybox init and systemd stop that way),
 * ptrace and process_vm_* (seccomp-bypass fixed since Linux 4.8; strace/gdb work),
 * name_to_handle_at (systemd uses it), personality.
 * io_uring returns ENOSYS so programs fall back to ordinary syscalls.
 */
export const SECCOMP_DENY_EPERM = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module',
  'finit_module', 'get_kernel_syms', 'init_module', 'ioperm', 'iopl', 'kexec_file_load',
  'kexec_load', 'keyctl', 'lookup_dcookie', 'nfsservctl', 'open_by_handle_at', 'perf_event_open',
  'query_module', 'quotactl', 'request_key', 'settimeofday', 'stime', 'swapoff', 'swapon',
  '_sysctl', 'syslog', 'uselib', 'userfaultfd', 'vm86', 'vm86old',
] as const;
export const SECCOMP_DENY_ENOSYS = ['io_uring_enter', 'io_uring_register', 'io_uring_setup'] as const;
export const EPERM = 1;
export const ENOSYS = 38;

export const SECCOMP_ARCHES: Record<'amd64' | 'arm64', string[]> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/** runc's default masked paths (Docker adds powercap). */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
] as const;
/** runc's default read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/**
 * Device nodes created in the container's /dev (with a user namespace runc bind-mounts the
 * host's nodes instead of mknod). /dev/ptmx is not listed: the runtime makes it a symlink to
 * pts/ptmx of the container's own devpts instance.
 */
export const DEVICES: [path: string, major: number, minor: number][] = [
  ['/dev/null', 1, 3],
  ['/dev/zero', 1, 5],
  ['/dev/full', 1, 7],
  ['/dev/random', 1, 8],
  ['/dev/urandom', 1, 9],
  ['/dev/tty', 5, 0],
];
