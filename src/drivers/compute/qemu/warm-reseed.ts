// The identity a VM restored from a template must take on: the template's guest still has the template's
// hostname, keys, MACs and addresses in its memory. One POSIX sh script (busybox or a full distro), run by
// the guest agent, applies the instance's seed: hostname, root's SSH keys, password hash, the new MACs on the
// NICs that had the template's, the IPAM addresses, new SSH host keys, the clock, and the image's ready line.
import { invalid } from '../../../lib/errors.js';

/** One NIC of a warm start: the template guest's MAC, and what the instance's seed says. */
export interface ReseedNic {
  fromMac: string;
  mac: string;
  /** CIDR, or '' for DHCP. */
  address: string;
  gateway?: string;
  dns: string[];
}

/** The identity the script applies. */
export interface ReseedIdentity {
  instanceId: string;
  hostname: string;
  sshKeys: string[];
  passwordHash?: string;
  nics: ReseedNic[];
  /** Unix seconds to set the clock to (the saved guest's clock is as old as the template). */
  now: number;
  readyMarker?: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A single-quoted sh word. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const firstLine = (s: string | undefined): string => (s ?? '').split('\n')[0]!.trim();

/** The identity from the instance's seed files (renderSeed's nimbo/ files) and the template's MACs (pure). */
export function identityFromSeed(seed: Record<string, string>, templateMacs: string[], now: number, readyMarker?: string): ReseedIdentity {
  const nics: ReseedNic[] = [];
  for (let i = 0; seed[`nimbo/net-eth${i}`] !== undefined; i++) {
    const kv: Record<string, string> = {};
    const dns: string[] = [];
    for (const line of seed[`nimbo/net-eth${i}`]!.split('\n')) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const k = line.slice(0, eq);
      const v = line.slice(eq + 1);
      if (k === 'dns') dns.push(v);
      else kv[k] = v;
    }
    const fromMac = templateMacs[i];
    if (!fromMac) throw invalid(`the template has ${templateMacs.length} NIC(s); the instance has more`);
    nics.push({ fromMac, mac: kv.mac ?? '', address: kv.mode === 'static' ? (kv.address ?? '') : '', ...(kv.gateway ? { gateway: kv.gateway } : {}), dns });
  }
  if (nics.length !== templateMacs.length) throw invalid(`the template has ${templateMacs.length} NIC(s), the instance ${nics.length}`);
  const hash = firstLine(seed['nimbo/password-hash']);
  return {
    instanceId: firstLine(seed['nimbo/instance-id']),
    hostname: firstLine(seed['nimbo/hostname']),
    sshKeys: (seed['nimbo/authorized_keys'] ?? '').split('\n').filter((l) => l.trim() !== ''),
    ...(hash ? { passwordHash: hash } : {}),
    nics,
    now: Math.floor(now),
    ...(readyMarker ? { readyMarker } : {}),
  };
}

function nicLines(n: ReseedNic): string[] {
  for (const m of [n.fromMac, n.mac]) if (!MAC.test(m)) throw invalid(`invalid MAC address ${JSON.stringify(m)}`);
  const out = [
    `find_iface ${q(n.fromMac)} || find_iface ${q(n.mac)}`,
    'if [ -n "$ifc" ]; then',
    // A running DHCP client would renew the template's lease: stop it first.
    '  for f in /run/udhcpc."$ifc".pid /run/dhclient."$ifc".pid; do [ -f "$f" ] && { read pid < "$f"; kill "$pid" 2>/dev/null; rm -f "$f"; }; done',
    `  ip link set dev "$ifc" address ${q(n.mac)} up`,
    '  ip addr flush dev "$ifc"',
  ];
  if (n.address !== '') {
    out.push(`  ip addr add ${q(n.address)} dev "$ifc"`);
    if (n.gateway) out.push(`  ip ${n.gateway.includes(':') ? '-6 ' : ''}route replace default via ${q(n.gateway)} dev "$ifc"`);
  } else {
    out.push('  command -v udhcpc >/dev/null && udhcpc -i "$ifc" -b -t 3 -T 1 -A 10 -p /run/udhcpc."$ifc".pid -s /etc/nimbo/udhcpc.script </dev/null >/dev/null 2>&1');
    out.push('  command -v udhcpc >/dev/null || { command -v dhclient >/dev/null && dhclient -nw "$ifc" </dev/null >/dev/null 2>&1; }');
  }
  for (const d of n.dns) {
    if (!/^[0-9A-Fa-f.:]{2,45}$/.test(d)) throw invalid(`invalid DNS server ${JSON.stringify(d)}`);
    out.push(`  ns="$ns ${d}"`);
  }
  out.push('fi');
  return out;
}

/**
 * The re-seed script for `id` (pure; throws InvalidArgument on a value that cannot be applied). Every program it
 * starts costs tens of ms in a TCG guest, and the launch waits for it: it uses the shell's builtins wherever they do
 * (about ten programs in all: date, mv, ip, rm, ssh-keygen for OpenSSH, the SSH server's restart); dropbear
 * makes its new host key itself at the first connection, OpenSSH gets only an ed25519 one.
 */
export function renderReseedScript(id: ReseedIdentity): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(id.hostname)) throw invalid(`invalid hostname ${JSON.stringify(id.hostname)}`);
  if (!Number.isInteger(id.now) || id.now <= 0) throw invalid('invalid clock value');
  for (const k of id.sshKeys) if (/[\r\n]/.test(k)) throw invalid('an SSH key must be one line');
  const h = q(id.hostname);
  const lines = [
    '#!/bin/sh',
    '# nimbo warm launch: this guest was restored from a template; give it its own identity.',
    'export PATH=/sbin:/usr/sbin:/bin:/usr/bin',
    'umask 077',
    // The template's dropbear goes first (it holds the template's host keys in memory): by the time the new one
    // starts, it has long exited and freed port 22, so nobody waits for it.
    'dpid=; command -v dropbear >/dev/null && [ -f /run/dropbear.pid ] && { read dpid < /run/dropbear.pid; kill "$dpid" 2>/dev/null; }',
    `date -s @${id.now} >/dev/null 2>&1 || date -u -s "@${id.now}" >/dev/null 2>&1`,
    `{ echo ${h} > /proc/sys/kernel/hostname; } 2>/dev/null || hostname ${h}`,
    `echo ${h} > /etc/hostname`,
    `printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s %s\\n::1\\tlocalhost ip6-localhost\\n' ${h} ${q(id.hostname.split('.')[0]!)} > /etc/hosts`,
    `[ -d /etc/nimbo ] && echo ${q(id.instanceId)} > /etc/nimbo/instance-id`,
    '[ -d /root/.ssh ] || { mkdir -p /root/.ssh && chmod 700 /root /root/.ssh; }',
    // umask 077: the new file is 0600 whatever the old one was.
    `printf '%s\\n' ${id.sshKeys.map(q).join(' ')} > /root/.ssh/authorized_keys.new`,
    ...(id.sshKeys.length ? [] : [': > /root/.ssh/authorized_keys.new']),
    'mv /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys',
  ];
  if (id.passwordHash) {
    if (!/^\$6\$[./0-9A-Za-z$=]+$/.test(id.passwordHash)) throw invalid('invalid password hash');
    lines.push(`sed -i ${q(`s|^root:[^:]*:|root:${id.passwordHash}:|`)} /etc/shadow`);
  }
  lines.push(
    // Sets $ifc to the NIC with MAC $1 (builtins only: no subshell, no cat).
    'find_iface() {',
    '  ifc=',
    '  for p in /sys/class/net/*; do',
    '    a=; read a < "$p/address" 2>/dev/null',
    '    [ "$a" = "$1" ] && { ifc=${p##*/}; return 0; }',
    '  done',
    '  return 1',
    '}',
    'ns=',
  );
  for (const n of id.nics) lines.push(...nicLines(n));
  lines.push(
    `[ -n "$ns" ] && printf 'nameserver %s\\n' $ns > /etc/resolv.conf`,
    // Its own SSH host keys: a clone must not share the template's.
    'wait_gone() { i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02 2>/dev/null || sleep 1; i=$((i+1)); done; }',
    'if command -v dropbear >/dev/null; then',
    // No keys: dropbear -R makes the key the first client asks for (ed25519 for OpenSSH) at its first connection.
    '  rm -f /etc/dropbear/dropbear_*_host_key',
    '  [ -n "$dpid" ] && wait_gone "$dpid"',
    // Its stdio away from the agent's pipes: qemu-ga reports the script done only once they are closed.
    '  dropbear -R -s -p 22 -P /run/dropbear.pid </dev/null >/dev/null 2>&1',
    'elif command -v ssh-keygen >/dev/null; then',
    '  rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub',
    // ed25519 only: an RSA key takes seconds in a TCG guest (sshd skips the HostKey files that are missing).
    "  ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key >/dev/null 2>&1 || ssh-keygen -A >/dev/null 2>&1",
    '  systemctl restart ssh >/dev/null 2>&1 || systemctl restart sshd >/dev/null 2>&1',
    'fi',
  );
  if (id.readyMarker) lines.push(`[ -c /dev/ttyS0 ] && echo ${q(id.readyMarker)} ${h} > /dev/ttyS0`);
  lines.push('exit 0', '');
  return lines.join('\n');
}
