import { CONTAINER_SEED_DIR } from '../drivers/compute/runc/rootfs/seed-dir.js';

/** A file the tiny image builder writes: content and mode. */
export interface ScriptFile {
  content: string;
  mode: number;
}

/**
 * The initramfs `/init`: loads the modules listed in /lib/modules/order, mounts the root
 * disk (cmdline `root=`, default /dev/vda, ext4) and switch_roots into its /sbin/init.
 */
export function renderInitramfsInit(): string {
  return `#!/bin/busybox sh
# nimbo tiny initramfs: load virtio + fs modules, mount the root disk, switch_root.
/bin/busybox mkdir -p /proc /sys /dev /newroot /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
rescue() {
  echo "nimbo-initramfs: $1; dropping to a shell" > /dev/console
  exec setsid cttyhack sh
}
while read -r m; do
  insmod "/lib/modules/$m" 2>/dev/null
done < /lib/modules/order
root=/dev/vda
mode=rw
fstype=ext4
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="\${arg#root=}" ;;
    rootfstype=*) fstype="\${arg#rootfstype=}" ;;
    ro) mode=ro ;;
    rw) mode=rw ;;
    nimbo.rescue) rescue "rescue requested" ;;
  esac
done
i=0
while :; do
  case "$root" in
    LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) ;;
    *) dev="$root" ;;
  esac
  [ -n "$dev" ] && [ -b "$dev" ] && break
  i=$((i + 1))
  [ "$i" -gt 100 ] && rescue "root device $root not found"
  sleep 0.1
done
mount -t "$fstype" -o "$mode" "$dev" /newroot || rescue "cannot mount $dev"
[ -x /newroot/sbin/init ] || rescue "no /sbin/init on $dev"
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
`;
}

/**
 * busybox init's table: our rc at sysinit, a root shell on ttyS0, the guest agent, clean poweroff. The getty
 * runs through a wrapper with no tty field: in a container there is no ttyS0, and init would
 * respawn a failing getty in a tight loop.
 */
function inittab(): string {
  return `# nimbo tiny image (busybox init)
::sysinit:/etc/nimbo/rc
::respawn:/etc/nimbo/serial-getty
::respawn:/etc/nimbo/guest-agent
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
`;
}

/**
 * The every-boot setup: seed → hostname, keys, network; dropbear; then the ready marker.
 * In a VM the seed is the cidata ISO and the marker goes to ttyS0. In a system container
 * (`$container` set by the runtime, or a seed directory at ${CONTAINER_SEED_DIR}) the seed is
 * that directory (same layout as the ISO's root), VM-only steps are skipped, and the marker
 * goes to init's stdout (runc's log) and to /dev/console when stdout is not a terminal.
 */
function rc(marker: string, console: string): string {
  return `#!/bin/sh
# nimbo tiny image: boot-time setup from the NoCloud seed's plain nimbo/ files (busybox only).
# VM: the seed is the cidata ISO. System container: the seed is the directory ${CONTAINER_SEED_DIR}
# (bind-mounted read-only, same files as the ISO); the runtime has prepared /dev, /proc, /sys.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
SEED_DIR=${CONTAINER_SEED_DIR}
incontainer=
if [ -n "$container" ] || [ -d "$SEED_DIR/nimbo" ]; then incontainer=1; fi
[ -e /proc/mounts ] || mount -t proc proc /proc 2>/dev/null
mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
mounted /sys || mount -t sysfs sysfs /sys 2>/dev/null
mounted /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null
mounted /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp 2>/dev/null
mounted /run || mount -t tmpfs -o mode=755 tmpfs /run 2>/dev/null
if [ -z "$incontainer" ]; then
  mount -o remount,rw /
fi
if [ -z "$incontainer" ]; then
  # Hot-add (nimbo resize of a running VM): new memory blocks come online by themselves, new CPUs through the
  # uevent handler (no udev here); the kernel leaves both offline otherwise.
  [ -w /sys/devices/system/memory/auto_online_blocks ] && echo online > /sys/devices/system/memory/auto_online_blocks
  uevent /etc/nimbo/hotplug </dev/null >/dev/null 2>&1 &
fi
ip link set lo up
syslogd -C64
if [ -z "$incontainer" ]; then
  # The disk may have been resized since the last boot: grow the fs (online, cheap if nothing to do).
  rootdev=$(awk '$2 == "/" && $1 ~ "^/dev/" { print $1 }' /proc/mounts | tail -n 1)
  [ -n "$rootdev" ] && resize2fs "$rootdev" >/dev/null 2>&1
fi

SEED=/run/nimbo-seed
seed_iso=
find_seed() {
  if [ -d "$SEED_DIR/nimbo" ]; then SEED=$SEED_DIR; return 0; fi
  [ -n "$incontainer" ] && return 1
  mkdir -p "$SEED"
  seed_iso=1
  dev=$(findfs LABEL=cidata 2>/dev/null)
  if [ -n "$dev" ] && mount -t iso9660 -o ro "$dev" "$SEED" 2>/dev/null; then return 0; fi
  for dev in /dev/vd[b-z] /dev/sr[0-9]; do
    [ -b "$dev" ] || continue
    mount -t iso9660 -o ro "$dev" "$SEED" 2>/dev/null || continue
    [ -d "$SEED/nimbo" ] && return 0
    umount "$SEED"
  done
  return 1
}
seed_line() { [ -f "$SEED/nimbo/$1" ] && head -n 1 "$SEED/nimbo/$1"; }
iface_by_mac() {
  for p in /sys/class/net/*; do
    [ "$(cat "$p/address" 2>/dev/null)" = "$1" ] && { echo "\${p##*/}"; return 0; }
  done
  return 1
}
dhcp() {
  ip link set "$1" up
  udhcpc -i "$1" -s /etc/nimbo/udhcpc.script -b -t 3 -T 1 -A 10 -x "hostname:$(hostname)" \\
    -p "/run/udhcpc.$1.pid" >/dev/null 2>&1
}
: > /run/nimbo-configured
: > /run/nimbo-dns
configure_nic() {
  mac= mode= addr= gw= dns=
  while IFS='=' read -r k v; do
    case "$k" in
      mac) mac="$v" ;; mode) mode="$v" ;; address) addr="$v" ;; gateway) gw="$v" ;;
      dns) dns="$dns $v" ;;
    esac
  done < "$1"
  ifc=$(iface_by_mac "$mac") || { echo "nimbo: no NIC with MAC $mac" >&2; return 0; }
  echo "$ifc" >> /run/nimbo-configured
  for d in $dns; do echo "nameserver $d" >> /run/nimbo-dns; done
  if [ "$mode" = static ] && [ -n "$addr" ]; then
    ip link set "$ifc" up
    ip addr add "$addr" dev "$ifc"
    case "$gw" in
      *:*) ip -6 route add default via "$gw" dev "$ifc" ;;
      ?*) ip route add default via "$gw" dev "$ifc" ;;
    esac
  else
    dhcp "$ifc"
  fi
}

host=
if find_seed; then
  iid=$(seed_line instance-id)
  if [ -n "$iid" ] && [ "$iid" != "$(cat /etc/nimbo/instance-id 2>/dev/null)" ]; then
    # A new instance (e.g. a fresh clone of the image): it gets its own SSH host keys.
    rm -f /etc/dropbear/dropbear_*_host_key
    echo "$iid" > /etc/nimbo/instance-id
  fi
  host=$(seed_line hostname)
  mkdir -p /root/.ssh
  chmod 700 /root /root/.ssh
  if [ -f "$SEED/nimbo/authorized_keys" ]; then
    cp "$SEED/nimbo/authorized_keys" /root/.ssh/authorized_keys.new
    chmod 600 /root/.ssh/authorized_keys.new
    mv /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
  fi
  pw=$(seed_line password)
  if [ -n "$pw" ]; then
    # busybox mkpasswd reads the password from fd 0 (-P 0), so it never shows up in ps.
    hash=$(printf '%s\n' "$pw" | mkpasswd -m sha512 -P 0)
    [ -n "$hash" ] && sed -i "s|^root:[^:]*:|root:$hash:|" /etc/shadow
  fi
  # A hash set by password_reset (SHA-512 crypt: no '|' in it) replaces root's.
  hash=$(seed_line password-hash)
  [ -n "$hash" ] && sed -i "s|^root:[^:]*:|root:$hash:|" /etc/shadow
  pw= hash=
  for f in "$SEED"/nimbo/net-*; do
    [ -f "$f" ] && configure_nic "$f"
  done
  [ -n "$seed_iso" ] && umount "$SEED"
fi
[ -n "$host" ] || host=$(cat /etc/hostname 2>/dev/null)
[ -n "$host" ] || host=nimbo-tiny
hostname "$host"
[ "$(cat /etc/hostname 2>/dev/null)" = "$host" ] || echo "$host" > /etc/hostname
printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s %s\\n::1\\tlocalhost ip6-localhost\\n' "$host" "\${host%%.*}" > /etc/hosts
# NICs the seed did not describe (or no seed at all): DHCP.
for p in /sys/class/net/*; do
  ifc="\${p##*/}"
  [ "$ifc" = lo ] && continue
  grep -qx "$ifc" /run/nimbo-configured || dhcp "$ifc"
done
[ -s /run/nimbo-dns ] && cp /run/nimbo-dns /etc/resolv.conf

mkdir -p /etc/dropbear
[ -f /etc/dropbear/dropbear_ed25519_host_key ] || dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
# Only ed25519 up front (fast under TCG); -R makes other key types on demand.
# -s: no password logins (root logs in with keys only).
dropbear -R -s -p 22 -P /run/dropbear.pid
if [ -n "$incontainer" ]; then
  # No serial port: init's stdout is the runtime's log; a console too unless stdout is it.
  echo "${marker} $(hostname)"
  [ -t 1 ] || [ ! -c /dev/console ] || echo "${marker} $(hostname)" > /dev/console 2>/dev/null
  exit 0
fi
# ACPI power button (QMP system_powerdown) → clean poweroff via busybox init.
acpid -c /etc/acpi -l /var/log/acpid.log
echo "${marker} $(hostname)" > /dev/${console}
`;
}

// Run by busybox init (respawn): the serial console login in a VM; in a container (no
// serial tty) it idles instead of failing, which init would answer with an endless respawn loop.
const serialGetty = (tty: string) => `#!/bin/sh
if [ -c /dev/${tty} ]; then
  exec /sbin/getty -n -i -l /etc/nimbo/console-shell -L 115200 ${tty} vt100
fi
exec sleep 2147483647
`;

// Run by busybox init (respawn) after rc: qemu-ga on its virtio-serial port. The port's node is made
// by devtmpfs (vportNpM); the /dev/virtio-ports/NAME link udev would make is made here. No port (a
// container, a VM without the channel) or no qemu-ga: it idles instead of failing (init would respawn it).
// Its log is on tmpfs: the agent must not write to a filesystem it froze.
const GUEST_AGENT = `#!/bin/sh
name=org.qemu.guest_agent.0
port=
i=0
while [ -z "$port" ] && [ "$i" -lt 30 ] && [ -d /sys/class/virtio-ports ]; do
  for d in /sys/class/virtio-ports/*; do
    [ "$(cat "$d/name" 2>/dev/null)" = "$name" ] && port="\${d##*/}"
  done
  [ -n "$port" ] || { i=$((i + 1)); sleep 0.1; }
done
if [ -z "$port" ] || [ ! -x /usr/sbin/qemu-ga ]; then exec sleep 2147483647; fi
if [ ! -c "/dev/$port" ]; then
  dev=$(cat "/sys/class/virtio-ports/$port/dev")
  mknod "/dev/$port" c "\${dev%%:*}" "\${dev##*:}"
fi
mkdir -p /dev/virtio-ports
ln -sf "../$port" "/dev/virtio-ports/$name"
/usr/sbin/qemu-ga -m virtio-serial -p "/dev/virtio-ports/$name" -l /run/qemu-ga.log
sleep 1
`;

// shutdown(8) as qemu-ga's guest-shutdown runs it (/sbin/shutdown -P|-H|-r +0 MESSAGE); busybox has none.
const SHUTDOWN = `#!/bin/sh
case "$1" in
  -r) exec /sbin/reboot ;;
  -H) exec /sbin/halt ;;
  *) exec /sbin/poweroff ;;
esac
`;

// chpasswd(8) as qemu-ga's guest-set-user-password runs it (USER:PASSWORD lines on stdin; -e: the
// password is a crypt(3) hash already); busybox-static has none. Same /etc/shadow edit as rc.
const CHPASSWD = `#!/bin/sh
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
crypted=
[ "$1" = -e ] && crypted=1
while IFS= read -r line; do
  user="\${line%%:*}"
  pw="\${line#*:}"
  case "$user" in ''|*[!a-z0-9_-]*) echo "chpasswd: bad user name" >&2; exit 1 ;; esac
  grep -q "^$user:" /etc/shadow || { echo "chpasswd: no user $user" >&2; exit 1; }
  if [ -n "$crypted" ]; then hash="$pw"; else hash=$(printf '%s\n' "$pw" | mkpasswd -m sha512 -P 0); fi
  pw=
  # A crypt(3) hash has only these characters (and none that sed's replacement would read).
  case "$hash" in ''|*[!A-Za-z0-9./\$]*) echo "chpasswd: bad password hash" >&2; exit 1 ;; esac
  sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/shadow || exit 1
done
`;

const UDHCPC = `#!/bin/sh
# udhcpc hook (busybox): apply the lease with ip(8).
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr add "$ip/\${mask:-24}" dev "$interface" 2>/dev/null
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    if [ -n "$dns" ]; then
      for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
    fi
    ;;
esac
exit 0
`;

// Run by busybox `uevent` for each kernel uevent: bring hot-added CPUs and memory blocks online.
const HOTPLUG = `#!/bin/sh
[ "$ACTION" = add ] || exit 0
case "$SUBSYSTEM" in
  cpu) f="/sys$DEVPATH/online"; [ -w "$f" ] && [ "$(cat "$f")" = 0 ] && echo 1 > "$f" ;;
  memory) f="/sys$DEVPATH/state"; [ -w "$f" ] && [ "$(cat "$f")" = offline ] && echo online > "$f" ;;
esac
exit 0
`;

/**
 * Every file of the tiny root fs that is not a binary: path (relative, no leading /) → file. `console`: the
 * guest's serial tty (ttyS0; aarch64's PL011 is ttyAMA0), where the getty runs and the ready marker goes.
 */
export function renderTinyRootFiles(marker: string, console = 'ttyS0'): Record<string, ScriptFile> {
  const text = (content: string, mode = 0o644): ScriptFile => ({ content, mode });
  return {
    'etc/inittab': text(inittab()),
    'etc/nimbo/rc': text(rc(marker, console), 0o755),
    'etc/nimbo/udhcpc.script': text(UDHCPC, 0o755),
    'etc/nimbo/serial-getty': text(serialGetty(console), 0o755),
    'etc/nimbo/guest-agent': text(GUEST_AGENT, 0o755),
    'sbin/shutdown': text(SHUTDOWN, 0o755),
    'usr/sbin/chpasswd': text(CHPASSWD, 0o755),
    'etc/nimbo/hotplug': text(HOTPLUG, 0o755),
    'etc/nimbo/console-shell': text('#!/bin/sh\ncd /root\nexport HOME=/root\nexec /bin/sh -l\n', 0o755),
    'etc/acpi/PWRF/00000080': text('#!/bin/sh\nexec /sbin/poweroff\n', 0o755),
    'etc/passwd': text('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n'),
    'etc/group': text('root:x:0:\ntty:x:5:\nnogroup:x:65534:\n'),
    // '*': no password until the seed sets one; dropbear's key login does not need one.
    'etc/shadow': text('root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600),
    'etc/shells': text('/bin/sh\n/bin/ash\n'),
    'etc/hostname': text('nimbo-tiny\n'),
    'etc/profile': text(
      'export PATH=/sbin:/usr/sbin:/bin:/usr/bin\nexport HOME=/root\nexport PS1=\'\\u@\\h:\\w\\$ \'\n',
    ),
    'etc/fstab': text('/dev/root / ext4 rw 0 1\n'),
    'etc/nimbo/instance-id': text(''),
  };
}
