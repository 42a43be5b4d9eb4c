import type { ScriptFile } from './tiny-scripts.js';
import { CONTAINER_CONSOLE, CONTAINER_SEED_DIR } from '../drivers/compute/runc/rootfs/seed-dir.js';

/** udev rules that bring hot-added CPUs and memory online (Debian ships none). */
export const HOTADD_RULES = 'SUBSYSTEM=="cpu", ACTION=="add", TEST=="online", ATTR{online}=="0", ATTR{online}="1"\n' +
  'SUBSYSTEM=="memory", ACTION=="add", TEST=="state", ATTR{state}=="offline", ATTR{state}="online"\n';

/** Picks the Debian mirror from apt sources (one-line and deb822 formats); falls back to deb.debian.org. */
export function pickDebianMirror(sourcesTexts: string[]): string {
  for (const text of sourcesTexts) {
    // deb822 stanzas: "URIs: ..." with "Suites: bookworm ..." and "Types: deb".
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (n: string) => new RegExp(`^${n}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim() ?? '';
      const suites = field('Suites').split(/\s+/);
      if (field('Types').split(/\s+/).includes('deb') && suites.some((s) => /^(bookworm|stable)$/.test(s))) {
        const uri = field('URIs').split(/\s+/)[0];
        if (uri && /^https?:\/\//.test(uri)) return uri;
      }
    }
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(bookworm|stable)\s/.exec(line);
      if (m) return m[1]!;
    }
  }
  return 'http://deb.debian.org/debian';
}

/** The apt sources.list of the image (main suite, updates and security). */
export function renderSourcesList(mirror: string): string {
  return `deb ${mirror} bookworm main
deb ${mirror} bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
`;
}

const SEED_SCRIPT = `#!/bin/sh
# nimbo first boot (and every boot): apply the NoCloud seed's plain nimbo/ files.
# VM: the seed is the cidata ISO. System container: the directory ${CONTAINER_SEED_DIR} (bind-mounted
# read-only by the host, same files as the ISO's root).
set -u
SEED=/run/nimbo-seed
STATE=/var/lib/nimbo
mkdir -p "$STATE"
found=
if systemd-detect-virt --container --quiet; then
  [ -d ${CONTAINER_SEED_DIR}/nimbo ] && { SEED=${CONTAINER_SEED_DIR}; found=dir; }
else
  mkdir -p "$SEED"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    for dev in $(blkid -L cidata 2>/dev/null) /dev/vd[b-z] /dev/sr[0-9]; do
      [ -b "$dev" ] || continue
      if mount -t iso9660 -o ro "$dev" "$SEED" 2>/dev/null; then
        [ -d "$SEED/nimbo" ] && { found=$dev; break 2; }
        umount "$SEED"
      fi
    done
    sleep 0.5
  done
fi
line() { [ -f "$SEED/nimbo/$1" ] && head -n 1 "$SEED/nimbo/$1"; }
rm -f /etc/systemd/network/10-nimbo-*.network
dns=
if [ -n "$found" ]; then
  iid=$(line instance-id)
  if [ -n "$iid" ] && [ "$iid" != "$(cat "$STATE/instance-id" 2>/dev/null)" ]; then
    # A new instance from the image: its own SSH host keys.
    rm -f /etc/ssh/ssh_host_*
    echo "$iid" > "$STATE/instance-id"
  fi
  host=$(line hostname)
  if [ -n "$host" ]; then
    echo "$host" > /etc/hostname
    hostname "$host"
    printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s %s\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' "$host" "\${host%%.*}" > /etc/hosts
  fi
  install -d -m 700 /root/.ssh
  if [ -f "$SEED/nimbo/authorized_keys" ]; then
    install -m 600 "$SEED/nimbo/authorized_keys" /root/.ssh/authorized_keys
  fi
  pw=$(line password)
  [ -n "$pw" ] && printf 'root:%s\\n' "$pw" | chpasswd
  pw=$(line password-hash)
  [ -n "$pw" ] && printf 'root:%s\\n' "$pw" | chpasswd -e
  pw=
  for f in "$SEED"/nimbo/net-*; do
    [ -f "$f" ] || continue
    mac= mode= addr= gw= nicdns=
    while IFS='=' read -r k v; do
      case "$k" in
        mac) mac="$v" ;; mode) mode="$v" ;; address) addr="$v" ;; gateway) gw="$v" ;;
        dns) nicdns="$nicdns $v" ;;
      esac
    done < "$f"
    [ -n "$mac" ] || continue
    dns="$dns$nicdns"
    out="/etc/systemd/network/10-nimbo-\${f##*/net-}.network"
    {
      printf '[Match]\\nMACAddress=%s\\n\\n[Network]\\n' "$mac"
      if [ "$mode" = static ] && [ -n "$addr" ]; then
        # Static: no waiting for router advertisements before network-online.
        printf 'Address=%s\\nIPv6AcceptRA=no\\n' "$addr"
        [ -n "$gw" ] && printf 'Gateway=%s\\n' "$gw"
      else
        printf 'DHCP=yes\\n'
      fi
      for d in $nicdns; do printf 'DNS=%s\\n' "$d"; done
    } > "$out"
  done
  [ "$found" = dir ] || umount "$SEED"
fi
if [ -n "$dns" ]; then
  for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
fi
# ed25519 and ECDSA only: RSA keygen costs seconds under TCG (sshd_config.d/nimbo.conf names these).
for t in ed25519 ecdsa; do
  k=/etc/ssh/ssh_host_\${t}_key
  [ -f "$k" ] || ssh-keygen -q -t "$t" -N '' -f "$k"
done
exit 0
`;

const GROWFS_SCRIPT = `#!/bin/sh
# nimbo: the disk may have been resized; grow the root partition and its ext4 (no-op otherwise).
src=$(findmnt -n -o SOURCE /)
disk=/dev/$(lsblk -n -o PKNAME "$src" 2>/dev/null | head -n 1)
part=$(cat "/sys/class/block/\${src##*/}/partition" 2>/dev/null)
if [ -b "$disk" ] && [ -n "$part" ]; then
  growpart "$disk" "$part" >/dev/null 2>&1 || true
fi
resize2fs "$src" >/dev/null 2>&1 || true
`;

const SEED_UNIT = `[Unit]
Description=nimbo: apply the seed (hostname, root SSH keys, network)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=network-pre.target systemd-networkd.service ssh.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/nimbo-seed

[Install]
WantedBy=multi-user.target
`;

const GROWFS_UNIT = `[Unit]
Description=nimbo: grow the root filesystem to the disk size
After=local-fs.target
# A container's root is a directory on the host: nothing to grow.
ConditionVirtualization=!container

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/nimbo-growfs

[Install]
WantedBy=multi-user.target
`;

/**
 * Prints the ready line once sshd (Type=notify) is up and the network is configured: on ttyS0 in a
 * VM; in a system container appended to ${CONTAINER_CONSOLE}, the console log the host mounts there
 * (systemd has pointed its own stdout, the runtime's log, at /dev/null).
 */
const READY_UNIT = (marker: string) => `[Unit]
Description=nimbo: announce readiness on the serial console
After=nimbo-seed.service ssh.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'if systemd-detect-virt --container --quiet; then echo "${marker} $(hostname)" >> ${CONTAINER_CONSOLE}; else echo "${marker} $(hostname)" > /dev/ttyS0; fi'

[Install]
WantedBy=multi-user.target
`;

// Without this a NIC without carrier would hold network-online.target for 2 minutes.
const WAIT_ONLINE = `[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30
`;

/** Files nimbo adds to the Debian rootfs (relative paths), besides fstab and grub. */
export function renderDebianFiles(marker: string, mirror: string): Record<string, ScriptFile> {
  const f = (content: string, mode = 0o644): ScriptFile => ({ content, mode });
  return {
    'usr/local/sbin/nimbo-seed': f(SEED_SCRIPT, 0o755),
    'etc/systemd/system/nimbo-seed.service': f(SEED_UNIT),
    'etc/systemd/system/nimbo-ready.service': f(READY_UNIT(marker)),
    'usr/local/sbin/nimbo-growfs': f(GROWFS_SCRIPT, 0o755),
    'etc/systemd/system/nimbo-growfs.service': f(GROWFS_UNIT),
    'etc/systemd/system/systemd-networkd-wait-online.service.d/nimbo.conf': f(WAIT_ONLINE),
    // A container's root is the host's overlay, already read-write: fstab's UUID= root is no device there.
    'etc/systemd/system/systemd-remount-fs.service.d/nimbo.conf': f('[Unit]\nConditionVirtualization=!container\n'),
    // nimbo resize of a running VM: hot-added CPUs and memory blocks come online (the kernel leaves them offline).
    'etc/udev/rules.d/80-nimbo-hotadd.rules': f(HOTADD_RULES),
    // NICs the seed does not describe get DHCP (10-nimbo-* files sort first and win).
    'etc/systemd/network/99-nimbo-dhcp.network': f('[Match]\nType=ether\n\n[Network]\nDHCP=yes\n'),
    'etc/initramfs-tools/conf.d/nimbo.conf': f('# nimbo VMs: only the virtio drivers (smaller, faster initrd)\nMODULES=list\n'),
    'etc/initramfs-tools/modules': f(['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_scsi', 'virtio_rng',
      'ext4', 'isofs'].join('\n') + '\n'),
    'etc/ssh/sshd_config.d/nimbo.conf': f('# nimbo: root logs in with SSH keys only; host keys made at first boot\n' +
      'PermitRootLogin prohibit-password\nHostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n'),
    'etc/apt/sources.list': f(renderSourcesList(mirror)),
    'etc/hostname': f('debian\n'),
    'etc/hosts': f('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'),
    'etc/resolv.conf': f(''),
  };
}

/** /etc/fstab of the image: root by filesystem UUID. */
export function renderFstab(uuid: string): string {
  return `UUID=${uuid} / ext4 errors=remount-ro 0 1\n`;
}

/** GRUB's early config embedded in core.img: find the root fs by UUID, then read grub.cfg there. */
export function renderGrubEarlyConfig(uuid: string): string {
  return `search --no-floppy --fs-uuid --set=root ${uuid}\nset prefix=($root)/boot/grub\n`;
}

/** grub.cfg: boot /vmlinuz (Debian keeps the symlink current on kernel upgrades) at once, console on ttyS0. */
export function renderGrubCfg(uuid: string): string {
  return `serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
search --no-floppy --fs-uuid --set=root ${uuid}
linux /vmlinuz root=UUID=${uuid} ro console=tty0 console=ttyS0,115200n8 quiet
initrd /initrd.img
boot
`;
}
