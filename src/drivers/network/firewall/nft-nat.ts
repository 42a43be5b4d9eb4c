import type { HostExec } from '../../../host/exec.js';
import type { NetFs } from '../host-fs.js';
import type { NetworkSpec } from '../types.js';
import { validateNftTable } from '../validate.js';

// One nft table per daemon (family inet), replaced atomically by one `nft -f -` transaction.
// Reference: nft(8), "Ruleset" and "Chains" (base chain types, priorities, policies).
// All chains keep `policy accept`: the host's own traffic is never touched; drops match nimbo bridges only.
// A drop here is final for the packet; an accept here does not override drops in other tables.

const q = (s: string) => `"${s}"`;
const set = (items: string[]) => `{ ${items.map(q).join(', ')} }`;

/** Render the whole table for these (validated) networks: NAT, inter-network isolation, DHCP/DNS to the host. */
export function renderNatRuleset(table: string, nets: NetworkSpec[]): string {
  validateNftTable(table);
  const sorted = [...nets].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const bridges = sorted.map((n) => n.bridge);
  const post: string[] = [];
  const fwd: string[] = [];
  const inp: string[] = [];
  for (const n of sorted) {
    const others = bridges.filter((b) => b !== n.bridge);
    if (n.nat) post.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade comment ${q(`nimbo network ${n.name}`)}`);
    // With br_netfilter loaded, traffic between guests of one bridge also passes here (in = out = bridge).
    fwd.push(`iifname ${q(n.bridge)} oifname ${q(n.bridge)} accept`);
    if (others.length > 0) fwd.push(`iifname ${q(n.bridge)} oifname ${set(others)} drop`);
    if (n.nat) fwd.push(`iifname ${q(n.bridge)} ip saddr ${n.subnet} accept`);
    // Isolated networks, and spoofed sources on NAT networks, go nowhere.
    fwd.push(`iifname ${q(n.bridge)} drop`);
    // Nothing enters a nimbo network unless it answers a guest's own connection.
    fwd.push(`oifname ${q(n.bridge)} drop`);
  }
  if (bridges.length > 0) {
    const on = `iifname ${set(bridges)}`;
    inp.push(
      `${on} ct state established,related accept`,
      `${on} udp dport 67 accept`,
      `${on} meta l4proto { tcp, udp } th dport 53 accept`,
      `${on} icmp type echo-request accept`,
      `${on} drop`,
    );
  }
  const chain = (name: string, head: string, rules: string[]) => [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((r) => `\t\t${r}`), '\t}'];
  return [
    '# nimbo: NAT and isolation of nimbo networks; generated, do not edit',
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post),
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', [
      ...(bridges.length > 0 ? ['ct state established,related accept'] : []),
      ...fwd,
    ]),
    ...chain('input', 'type filter hook input priority filter; policy accept;', inp),
    '}',
    '',
  ].join('\n');
}

/** Apply an nft script atomically (`nft -f -`, script on stdin). */
export async function apply(exec: HostExec, script: string): Promise<void> {
  await exec.run(['nft', '-f', '-'], { input: script });
}

/** Delete this daemon's table; no error when it does not exist. */
export async function removeTable(exec: HostExec, table: string): Promise<void> {
  validateNftTable(table);
  await apply(exec, `table inet ${table} {}\ndelete table inet ${table}\n`);
}

/** True when the table exists. */
export async function tableExists(exec: HostExec, table: string): Promise<boolean> {
  validateNftTable(table);
  const res = await exec.run(['nft', 'list', 'table', 'inet', table], { allowFailure: true });
  return res.code === 0;
}

/** Turn on IPv4 forwarding (needed for NAT); never turned off again, other software may rely on it. */
export async function enableIpForward(fs: NetFs): Promise<void> {
  const path = '/proc/sys/net/ipv4/ip_forward';
  if ((await fs.readText(path))?.trim() !== '1') await fs.writeInPlace(path, '1\n');
}
