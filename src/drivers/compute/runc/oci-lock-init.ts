// Locks a system container's runtime mounts (the /proc and /sys masks above all) before its
// init starts, so that root inside, which holds CAP_SYS_ADMIN over its own namespaces, can
// neither unmount a mask (`umount /sys/firmware`) nor mount a fresh, unmasked proc or sysfs.
//
// Why this is needed: runc creates the container's user namespace first and its mount
// namespace inside it, then mounts /proc, /sys and the masks there. Mounts made inside a mount
// namespace its own user namespace owns are not locked, so a CAP_SYS_ADMIN process there may
// undo them, and the kernel lets it mount a new procfs beside a procfs whose covering mounts
// are not locked (fs/namespace.c mnt_already_visible). The kernel locks (MNT_LOCKED) every mount
// of a mount namespace copied into a new, less privileged user namespace
// (mount_namespaces(7), "Restrictions on mount namespaces"). So init's argv becomes this short
// sh script, run as pid 1: it forks a helper that stays in the container's user namespace, then
// enters a new user + mount namespace itself (`unshare -U -m`, util-linux or busybox); the
// helper writes the identity id map (container ids 0..size-1 stay what they are, so file owners,
// the delegated cgroup and `runc exec`, which joins init's namespaces, are unchanged); the script
// waits for the map and execs the real init, still pid 1. An image without `unshare` boots
// unlocked, with a line on its console saying so.

/** argv[0..2] of a system container's init: sh, -c, the script (then $0 and the map size). */
export const LOCK_INIT_SCRIPT = [
  'n=$1; shift',
  'if ! command -v unshare >/dev/null 2>&1; then echo "nimbo: no unshare in this image: runtime mounts stay unlocked" >&2; exec "$@"; fi',
  'outer=$(readlink /proc/$$/ns/user)',
  // The helper: once pid 1 is in its new user namespace, write the identity map from outside it.
  '( i=0; while u=$(readlink /proc/$$/ns/user); [ -z "$u" ] || [ "$u" = "$outer" ]; do i=$((i+1)); [ $i -lt 100000 ] || exit 1; done',
  '  echo "0 0 $n" > /proc/$$/uid_map && echo "0 0 $n" > /proc/$$/gid_map ) &',
  // Unmapped until the helper is done: wait for the map, then exec init as root of the new namespace.
  'exec unshare -U -m --propagation unchanged /bin/sh -c \'i=0; while [ -z "$(cat /proc/self/uid_map)" ]; do i=$((i+1)); [ $i -lt 100000 ] || exit 1; done; exec "$@"\' nimbo-init "$@"',
].join('\n');

/** The argv that runs init behind the mount lock (pure). */
export function lockedInitArgs(args: readonly string[], idMapSize: number): string[] {
  return ['/bin/sh', '-c', LOCK_INIT_SCRIPT, 'nimbo-lock-init', String(idMapSize), ...args];
}
