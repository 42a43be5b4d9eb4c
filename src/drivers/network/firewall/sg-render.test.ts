import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../core/errors.js';
import { parseCidr } from '../../../core/ip.js';
import { validateFirewall, validateRule, type Port, type Rule, type SecurityGroup } from './sg-model.js';
import { renderSecurityRuleset } from './sg-render.js';
import { bigCase, prng, randomRules, smallCase } from './sg-test-fixtures.js';

const code = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

/** Lines that are rules: inside a chain block, other than the base chain's `type ... hook` line and comments. */
function ruleLines(script: string): string[] {
  const out: string[] = [];
  let inChain = false;
  for (const line of script.split('\n')) {
    if (/^\tchain \S+ \{$/.test(line)) inChain = true;
    else if (line === '\t}') inChain = false;
    else if (inChain && !/^\t\ttype /.test(line) && !/^\s*#/.test(line)) out.push(line.trim());
  }
  return out;
}

/** Elements of one named set, as text. */
function setElements(script: string, name: string): string[] {
  const m = new RegExp(`\\tset ${name} \\{\\n[^]*?\\n\\t\\}`).exec(script);
  assert.ok(m, `set ${name} is rendered`);
  const el = /elements = \{\n([^]*?)\n\t\t\}/.exec(m[0]);
  return el ? el[1]!.split('\n').map((l) => l.trim().replace(/,$/, '')) : [];
}

/** The fixed rules of the base chains (the same for any groups and ports). */
const BASE_PREROUTING = [
  'iifname != @ports accept',
  'iifname . ether saddr != @port_mac drop',
  'ether type != { ip, arp, ip6 } drop',
  'ether type arp iifname . arp saddr ether != @port_mac drop',
  'ether type arp arp saddr ip 0.0.0.0 accept',
  'ether type arp iifname . arp saddr ip != @port_ipv4 drop',
  'ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept',
  'ether type ip iifname . ip saddr != @port_ipv4 drop',
  'udp sport { 67, 547 } drop',
  'icmpv6 type { nd-router-advert, nd-redirect } drop',
  'ether type arp accept',
  'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept',
  'ct state established,related accept',
  'iifname vmap @port_out',
];
const BASE_TO_PORT = [
  'ct state established,related accept',
  'ether type arp accept',
  'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept',
  'udp sport 67 udp dport 68 accept',
  'udp sport 547 udp dport 546 accept',
  'oifname vmap @port_in',
  'drop',
];

const GOLDEN = `# nimbo: security groups and anti-spoofing of instance ports; generated, do not edit
table bridge nimbo_sg {}
delete table bridge nimbo_sg
table bridge nimbo_sg {
	set ports {
		type ifname
		elements = {
			"tap0",
			"tap1",
			"tap2"
		}
	}
	set port_mac {
		type ifname . ether_addr
		elements = {
			"tap0" . 52:54:00:00:00:02,
			"tap1" . 52:54:00:00:00:01,
			"tap2" . 52:54:00:00:00:03
		}
	}
	set port_ipv4 {
		type ifname . ipv4_addr
		elements = {
			"tap0" . 10.77.0.10,
			"tap0" . 10.77.0.20,
			"tap1" . 10.77.0.11,
			"tap2" . 10.77.0.12
		}
	}
	map port_in {
		type ifname : verdict
		elements = { "tap0" : jump p0_in, "tap1" : jump p1_in }
	}
	map port_out {
		type ifname : verdict
		elements = { "tap0" : jump p0_out }
	}
	# group admin, ingress
	set g0_in_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			192.168.1.0/24 . tcp . 20-30
		}
	}
	set g0_in_icmp {
		type ipv4_addr
		flags interval
	}
	set g0_in_all {
		type ipv4_addr
		flags interval
	}
	# group admin, egress
	set g0_out_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			10.77.0.1 . udp . 53
		}
	}
	set g0_out_icmp {
		type ipv4_addr
		flags interval
	}
	set g0_out_all {
		type ipv4_addr
		flags interval
		elements = {
			10.77.0.10/31,
			10.77.0.20
		}
	}
	# group web, ingress
	set g1_in_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
		elements = {
			0.0.0.0-9.255.255.255 . tcp . 80,
			10.0.0.0/8 . tcp . 80,
			10.0.0.0/8 . tcp . 443,
			11.0.0.0-255.255.255.255 . tcp . 80
		}
	}
	set g1_in_icmp {
		type ipv4_addr
		flags interval
		elements = {
			10.77.0.10,
			10.77.0.20
		}
	}
	set g1_in_all {
		type ipv4_addr
		flags interval
	}
	# group web, egress
	set g1_out_l4 {
		type ipv4_addr . inet_proto . inet_service
		flags interval
	}
	set g1_out_icmp {
		type ipv4_addr
		flags interval
	}
	set g1_out_all {
		type ipv4_addr
		flags interval
	}
	# group admin, ingress
	chain g0_in {
		ip saddr . meta l4proto . th dport @g0_in_l4 accept
		meta l4proto icmp ip saddr @g0_in_icmp accept
		ip saddr @g0_in_all accept
	}
	# group admin, egress
	chain g0_out {
		ip daddr . meta l4proto . th dport @g0_out_l4 accept
		meta l4proto icmp ip daddr @g0_out_icmp accept
		ip daddr @g0_out_all accept
	}
	# group web, ingress
	chain g1_in {
		ip saddr . meta l4proto . th dport @g1_in_l4 accept
		meta l4proto icmp ip saddr @g1_in_icmp accept
		ip saddr @g1_in_all accept
	}
	# group web, egress
	chain g1_out {
		ip daddr . meta l4proto . th dport @g1_out_l4 accept
		meta l4proto icmp ip daddr @g1_out_icmp accept
		ip daddr @g1_out_all accept
	}
	# port tap0, ingress
	chain p0_in {
		jump g0_in
		jump g1_in
	}
	# port tap1, ingress
	chain p1_in {
		jump g1_in
	}
	# port tap0, egress
	chain p0_out {
		jump g0_out
		drop
	}
	# frames from a guest: anti-spoofing, then egress rules
	chain prerouting {
		type filter hook prerouting priority 0; policy accept;
		iifname != @ports accept
		iifname . ether saddr != @port_mac drop
		ether type != { ip, arp, ip6 } drop
		ether type arp iifname . arp saddr ether != @port_mac drop
		ether type arp arp saddr ip 0.0.0.0 accept
		ether type arp iifname . arp saddr ip != @port_ipv4 drop
		ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept
		ether type ip iifname . ip saddr != @port_ipv4 drop
		udp sport { 67, 547 } drop
		icmpv6 type { nd-router-advert, nd-redirect } drop
		ether type arp accept
		icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
		ct state established,related accept
		iifname vmap @port_out
	}
	# frames to a guest: stateful, default deny, then ingress rules
	chain to_port {
		ct state established,related accept
		ether type arp accept
		icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
		udp sport 67 udp dport 68 accept
		udp sport 547 udp dport 546 accept
		oifname vmap @port_in
		drop
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		oifname @ports jump to_port
	}
	chain output {
		type filter hook output priority 0; policy accept;
		oifname @ports jump to_port
	}
}
`;

test('golden: two groups, a group peer, egress rules, a port without groups', () => {
  const c = smallCase();
  assert.equal(renderSecurityRuleset('nimbo_sg', c.groups, c.ports), GOLDEN);
});

test('the script replaces the table atomically and never uses a drop policy', () => {
  const c = smallCase();
  const s = renderSecurityRuleset('nimbo_sg', c.groups, c.ports);
  assert.deepEqual(s.split('\n').slice(1, 4), ['table bridge nimbo_sg {}', 'delete table bridge nimbo_sg', 'table bridge nimbo_sg {']);
  assert.doesNotMatch(s, /policy drop/);
  assert.equal(s.match(/^\ttable /gm), null);
  assert.throws(() => renderSecurityRuleset('bad name', c.groups, c.ports), /nft table name/);
  // With nothing at all the skeleton is still valid: empty sets and maps, same chains.
  const empty = renderSecurityRuleset('nimbo_sg', [], []);
  assert.match(empty, /map port_in \{\n\t\ttype ifname : verdict\n\t\}/);
  assert.deepEqual(ruleLines(empty), [...BASE_PREROUTING, ...BASE_TO_PORT, 'oifname @ports jump to_port', 'oifname @ports jump to_port']);
  assert.deepEqual(ruleLines(s).slice(-BASE_TO_PORT.length - 2, -2), BASE_TO_PORT);
});

test('rendering is deterministic and independent of input order', () => {
  const c = bigCase(300, 4, 6, 7);
  const a = renderSecurityRuleset('t', c.groups, c.ports);
  assert.equal(renderSecurityRuleset('t', c.groups, c.ports), a);
  const r = prng(99);
  const shuffle = <T>(xs: T[]) => xs.map((x) => [r(), x] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
  const groups: SecurityGroup[] = shuffle(c.groups).map((g) => ({ ...g, rules: shuffle(g.rules) }));
  const ports: Port[] = shuffle(c.ports).map((p) => ({ ...p, ipv4: shuffle(p.ipv4), groups: shuffle(p.groups) }));
  assert.equal(renderSecurityRuleset('t', groups, ports), a);
});

test('1,000 rules: the number of rules does not grow with security-group rules, only set elements do', () => {
  // Same groups and ports, 200 vs 1,000 rules (both with ingress and egress rules in every group).
  const small = renderSecurityRuleset('t', bigCase(200).groups, bigCase(200).ports);
  const big = renderSecurityRuleset('t', bigCase(1000).groups, bigCase(1000).ports);
  assert.deepEqual(ruleLines(big), ruleLines(small));
  // 23 fixed rules + 6 per group (3 lookups per direction) + one jump per (port, group) per direction + a drop per
  // egress-restricted port: 6 ports attached to 10 (port, group) pairs, all groups have egress rules.
  assert.equal(ruleLines(big).length, 23 + 6 * 4 + 10 + (10 + 6));
  assert.ok(big.split('\n').length > small.split('\n').length + 400, 'elements grow');
  // One rule references each group's sets; the group chains are reached through verdict maps only.
  assert.ok(ruleLines(big).includes('oifname vmap @port_in'));
  assert.ok(ruleLines(big).includes('iifname vmap @port_out'));
});

/** Parse "A[-B|/N] . proto . P[-Q]" into ranges. */
function parseL4(e: string): { a: [number, number]; proto: string; p: [number, number] } {
  const [addr, proto, port] = e.split(' . ') as [string, string, string];
  const ip = (s: string) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  let a: [number, number];
  if (addr.includes('/')) {
    const c = parseCidr(addr);
    a = [c.network, c.network + 2 ** (32 - c.prefix) - 1];
  } else if (addr.includes('-')) a = addr.split('-').map(ip) as [number, number];
  else a = [ip(addr), ip(addr)];
  const p = (port.includes('-') ? port.split('-').map(Number) : [Number(port), Number(port)]) as [number, number];
  return { a, proto, p };
}

test('overlapping rules become disjoint set elements that match exactly the union of the rules', () => {
  const rules: Rule[] = randomRules(400, 3).filter((r) => r.direction === 'ingress' && (r.protocol === 'tcp' || r.protocol === 'udp'));
  const port: Port = { tap: 'tap0', mac: '52:54:00:00:00:01', ipv4: ['10.77.0.2'], groups: ['g'] };
  const s = renderSecurityRuleset('t', [{ name: 'g', rules }], [port]);
  const els = setElements(s, 'g0_in_l4').map(parseL4);
  const overlap = (x: [number, number], y: [number, number]) => x[0] <= y[1] && y[0] <= x[1];
  for (let i = 0; i < els.length; i++) {
    for (let j = i + 1; j < els.length; j++) {
      const x = els[i]!;
      const y = els[j]!;
      assert.ok(!(x.proto === y.proto && overlap(x.a, y.a) && overlap(x.p, y.p)), `elements ${i} and ${j} overlap`);
    }
  }
  const r = prng(5);
  const ruleBoxes = rules.map((x) => ({ a: parseL4(`${x.source} . ${x.protocol} . 0`).a, proto: x.protocol, p: x.ports ? [x.ports.from, x.ports.to] : [0, 65535] }));
  const inside = (b: { a: number[]; proto: string; p: number[] }, ip: number, proto: string, p: number) =>
    b.proto === proto && b.a[0]! <= ip && ip <= b.a[1]! && b.p[0]! <= p && p <= b.p[1]!;
  for (let k = 0; k < 20000; k++) {
    // Probe near rule corners as well as at random.
    const box = ruleBoxes[Math.floor(r() * ruleBoxes.length)]!;
    const ip = r() < 0.5 ? box.a[Math.floor(r() * 2)]! + Math.floor(r() * 3) - 1 : Math.floor(r() * 2 ** 32);
    const p = r() < 0.5 ? box.p[Math.floor(r() * 2)]! + Math.floor(r() * 3) - 1 : Math.floor(r() * 65536);
    const proto = r() < 0.5 ? 'tcp' : 'udp';
    assert.equal(els.some((e) => inside(e, ip, proto, p)), ruleBoxes.some((b) => inside(b, ip, proto, p)), `${ip} ${proto} ${p}`);
  }
});

test('group peers expand to the addresses of the ports attached to the group', () => {
  const c = smallCase();
  const s = renderSecurityRuleset('t', c.groups, c.ports);
  // web allows icmp from admin members (tap0: 10.77.0.10, .20); admin may reach web members (.10, .11, .20).
  assert.deepEqual(setElements(s, 'g1_in_icmp'), ['10.77.0.10', '10.77.0.20']);
  assert.deepEqual(setElements(s, 'g0_out_all'), ['10.77.0.10/31', '10.77.0.20']);
  // A group with no members contributes nothing.
  const lonely = renderSecurityRuleset('t', [...c.groups, { name: 'zz', rules: [] }], c.ports);
  assert.deepEqual(setElements(lonely, 'g2_in_l4'), []);
});

test('ports: anti-spoofing sets, default-deny ingress, egress restricted only when a group has egress rules', () => {
  const c = smallCase();
  const s = renderSecurityRuleset('t', c.groups, c.ports);
  assert.deepEqual(setElements(s, 'port_ipv4'), ['"tap0" . 10.77.0.10', '"tap0" . 10.77.0.20', '"tap1" . 10.77.0.11', '"tap2" . 10.77.0.12']);
  assert.match(s, /elements = \{ "tap0" : jump p0_in, "tap1" : jump p1_in \}/);
  assert.match(s, /map port_out \{\n\t\ttype ifname : verdict\n\t\telements = \{ "tap0" : jump p0_out \}/);
  const rules = ruleLines(s);
  assert.ok(rules.indexOf('iifname . ether saddr != @port_mac drop') < rules.indexOf('ct state established,related accept'));
  assert.ok(rules.includes('udp sport { 67, 547 } drop'));
  assert.ok(rules.includes('icmpv6 type { nd-router-advert, nd-redirect } drop'));
});

test('validation: bad CIDR, ports, protocol, direction, names and references are refused clearly', () => {
  const ok: Rule = { id: 'a', direction: 'ingress', protocol: 'tcp', ports: { from: 22, to: 22 }, source: '10.0.0.0/8' };
  assert.deepEqual(validateRule(ok), ok);
  assert.deepEqual(validateRule({ ...ok, source: '10.0.0.1' }).source, '10.0.0.1/32');
  assert.throws(() => validateRule({ ...ok, source: '10.0.0.1/24' }), code(/host bits set; did you mean 10.0.0.0\/24/));
  assert.throws(() => validateRule({ ...ok, source: '10.0.0.300/8' }), code(/source.*not an IPv4 address/));
  assert.throws(() => validateRule({ ...ok, source: '10.0.0.0/33' }), code(/invalid prefix length/));
  assert.throws(() => validateRule({ ...ok, source: 'any' }), code(/source/));
  assert.throws(() => validateRule({ ...ok, source: { group: 'Bad Name' } }), code(/security group name/));
  assert.throws(() => validateRule({ ...ok, ports: { from: 0, to: 22 } }), code(/port 0 is not a port number 1-65535/));
  assert.throws(() => validateRule({ ...ok, ports: { from: 22, to: 70000 } }), code(/70000 is not a port number/));
  assert.throws(() => validateRule({ ...ok, ports: { from: 23, to: 22 } }), code(/23-22 is empty/));
  assert.throws(() => validateRule({ ...ok, ports: { from: 1.5, to: 22 } }), code(/not a port number/));
  assert.throws(() => validateRule({ ...ok, protocol: 'icmp' }), code(/ports are only allowed with protocol tcp or udp/));
  assert.throws(() => validateRule({ ...ok, protocol: 'sctp' as never }), code(/protocol "sctp" is invalid/));
  assert.throws(() => validateRule({ ...ok, direction: 'in' as never }), code(/direction "in" is invalid/));
  assert.throws(() => validateRule({ ...ok, destination: '10.0.0.0/8' }), code(/ingress rule takes a source/));
  assert.throws(() => validateRule({ id: 'e', direction: 'egress', protocol: 'any', source: '10.0.0.0/8' }), code(/egress rule takes a destination/));
  assert.throws(() => validateRule({ ...ok, id: 'a b' }), code(/id "a b" is invalid/));

  const g = (name: string, rules: Rule[] = []): SecurityGroup => ({ name, rules });
  const p: Port = { tap: 'tap0', mac: '52:54:00:00:00:01', ipv4: ['10.0.0.2'], groups: ['web'] };
  assert.throws(() => validateFirewall([g('web'), g('web')], []), code(/defined twice/));
  assert.throws(() => validateFirewall([g('web', [ok, ok])], []), code(/rule id "a" is used twice/));
  assert.throws(() => validateFirewall([g('web', [{ ...ok, source: { group: 'db' } }])], []), code(/unknown security group "db"/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, groups: ['db'] }]), code(/attached to unknown security group "db"/));
  assert.throws(() => validateFirewall([g('web')], [p, p]), code(/listed twice/));
  assert.throws(() => validateFirewall([g('web')], [p, { ...p, tap: 'tap1' }]), code(/10.0.0.2 is given to both port "tap0" and port "tap1"/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, tap: 'x;y' }]), code(/tap name/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, mac: '01:00:5e:00:00:01' }]), code(/multicast/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, ipv4: ['10.0.0'] }]), code(/port "tap0".*not an IPv4 address/));
  assert.throws(() => validateFirewall([g('Web')], []), code(/security group name "Web" is invalid/));
  // The renderer validates too: nothing unvalidated reaches a script.
  assert.throws(() => renderSecurityRuleset('t', [g('web', [{ ...ok, ports: { from: 9, to: 1 } }])], []), code(/is empty/));
});
