import { formatIpv6, type Port, type Rule, type SecurityGroup } from './sg-model.js';
import { prng } from '../../../lib/prng.js';

// Test data for the security-group renderer (unit and system tests): a small reviewed case and a
// seeded generator of large, overlapping rule sets.

/** A small case: two groups (one refers to the other), egress rules, IPv4 and IPv6, a port without groups. */
export function smallCase(): { groups: SecurityGroup[]; ports: Port[] } {
  return {
    groups: [
      {
        name: 'web',
        rules: [
          { id: 'http', direction: 'ingress', protocol: 'tcp', ports: { from: 80, to: 80 } },
          { id: 'https', direction: 'ingress', protocol: 'tcp', ports: { from: 443, to: 443 }, source: '10.0.0.0/8' },
          { id: 'ping', direction: 'ingress', protocol: 'icmp', source: { group: 'admin' } },
          { id: 'https6', direction: 'ingress', protocol: 'tcp', ports: { from: 443, to: 443 }, source: '2001:db8:1::/48' },
        ],
      },
      {
        name: 'admin',
        rules: [
          { id: 'ssh', direction: 'ingress', protocol: 'tcp', ports: { from: 22, to: 22 }, source: '192.168.1.5' },
          { id: 'ssh-range', direction: 'ingress', protocol: 'tcp', ports: { from: 20, to: 30 }, source: '192.168.1.0/24' },
          { id: 'dns', direction: 'egress', protocol: 'udp', ports: { from: 53, to: 53 }, destination: '10.77.0.1' },
          { id: 'dns6', direction: 'egress', protocol: 'udp', ports: { from: 53, to: 53 }, destination: 'fd00:77::1' },
          { id: 'to-web', direction: 'egress', protocol: 'any', destination: { group: 'web' } },
        ],
      },
    ],
    ports: [
      { tap: 'tap1', mac: '52:54:00:00:00:01', ipv4: ['10.77.0.11'], ipv6: ['fd00:77::11'], groups: ['web'] },
      { tap: 'tap0', mac: '52:54:00:00:00:02', ipv4: ['10.77.0.20', '10.77.0.10'], ipv6: ['fd00:77::20', 'FD00:77:0::10'], groups: ['admin', 'web'] },
      { tap: 'tap2', mac: '52:54:00:00:00:03', ipv4: ['10.77.0.12'], ipv6: [], groups: [] },
    ],
  };
}


/** `n` random rules (mixed protocols, nested and overlapping IPv4 and IPv6 CIDRs and port ranges, group peers, no peer). */
export function randomRules(n: number, seed: number, peers: string[] = []): Rule[] {
  const r = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const rules: Rule[] = [];
  for (let i = 0; i < n; i++) {
    const direction = r() < 0.8 ? 'ingress' : 'egress';
    const x = r();
    const protocol = x < 0.45 ? 'tcp' : x < 0.8 ? 'udp' : x < 0.92 ? 'icmp' : 'any';
    const prefix = [8, 16, 24, 28, 32][int(0, 4)]!;
    const addr = [10, int(0, 3), int(0, 255), int(0, 255)];
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const n32 = ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0;
    const net = (n32 & mask) >>> 0;
    const cidr = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`;
    // About one peer in five is IPv6: fd00:0-3:XXXX:XXXX::YYYY masked to /32, /48, /64, /96 or /128.
    const p6 = [32, 48, 64, 96, 128][int(0, 4)]!;
    const a6 = (0xfd00n << 112n) | (BigInt(int(0, 3)) << 96n) | (BigInt(int(0, 0xffff)) << 80n) | (BigInt(int(0, 0xffff)) << 64n) | BigInt(int(0, 0xffff));
    const cidr6 = `${formatIpv6(a6 & ~((1n << BigInt(128 - p6)) - 1n))}/${p6}`;
    const y = r();
    const peer = peers.length > 0 && y < 0.1 ? { group: peers[int(0, peers.length - 1)]! } : y < 0.3 ? cidr6 : y < 0.32 ? undefined : cidr;
    const rule: Rule = { id: `r${i}`, direction, protocol };
    if ((protocol === 'tcp' || protocol === 'udp') && r() < 0.9) {
      const from = int(1, 65000);
      rule.ports = { from, to: r() < 0.5 ? from : Math.min(65535, from + int(0, 2000)) };
    }
    if (peer !== undefined && direction === 'ingress') rule.source = peer;
    else if (peer !== undefined) rule.destination = peer;
    rules.push(rule);
  }
  return rules;
}

/** A realistic case: `groups` groups sharing `total` rules, `ports` ports attached to one or two groups. */
export function bigCase(total: number, groups = 4, ports = 6, seed = 1): { groups: SecurityGroup[]; ports: Port[] } {
  const names = Array.from({ length: groups }, (_, i) => `group-${i}`);
  const per = Math.ceil(total / groups);
  const gs: SecurityGroup[] = names.map((name, i) => ({
    name,
    rules: randomRules(Math.max(0, Math.min(per, total - i * per)), seed + i, names),
  }));
  const ps: Port[] = Array.from({ length: ports }, (_, i) => ({
    tap: `tap${i}`,
    mac: `52:54:00:00:01:${(i + 1).toString(16).padStart(2, '0')}`,
    ipv4: [`10.77.0.${10 + i}`],
    ipv6: [`fd00:77::${(10 + i).toString(16)}`],
    groups: i % 3 === 2 ? [names[i % groups]!] : [names[i % groups]!, names[(i + 1) % groups]!],
  }));
  return { groups: gs, ports: ps };
}
