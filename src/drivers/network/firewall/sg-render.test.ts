import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import { renderRuleset } from './ruleset.js';
import { canonicalIpv6, formatIpv6, parseIpv6, validateAddressBlock, validateFirewall, validatePortSpec, validateRule, type Port, type Rule, type SecurityGroup } from './sg-model.js';
import { renderSecurityFragment } from './sg-render.js';
import { BRIDGE_PREROUTING_RULES } from './sg-render-bridge.js';
import { INET_FIXED_CHAINS } from './sg-render-inet.js';
import { bigCase, randomRules, smallCase } from './sg-test-fixtures.js';
import { prng } from '../../../lib/prng.js';
import { GOLDEN } from './sg-render-golden.js';

const code = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);
const script = (groups: SecurityGroup[], ports: Port[], table = 'nimbo') => renderRuleset(table, [renderSecurityFragment(groups, ports)]);

/** Lines that are rules: inside a chain block, other than the base chain's `type ... hook` line and comments. */
function ruleLines(lines: string[]): string[] {
  const out: string[] = [];
  let inChain = false;
  for (const line of lines) {
    if (/^\tchain \S+ \{$/.test(line)) inChain = true;
    else if (line === '\t}') inChain = false;
    else if (inChain && !/^\t\ttype /.test(line) && !/^\s*#/.test(line)) out.push(line.trim());
  }
  return out;
}

/** Elements of one named set or map, as text. */
function setElements(lines: string[], name: string): string[] {
  const m = new RegExp(`\\t(set|map) ${name} \\{\\n[^]*?\\n\\t\\}`).exec(lines.join('\n'));
  assert.ok(m, `set ${name} is rendered`);
  const el = /elements = \{\n([^]*?)\n\t\t\}/.exec(m[0]);
  return el ? el[1]!.split('\n').map((l) => l.trim().replace(/,$/, '')) : [];
}

/** The rules of one chain. */
function chainRules(lines: string[], name: string): string[] {
  const start = lines.indexOf(`\tchain ${name} {`);
  assert.ok(start >= 0, `chain ${name} is rendered`);
  return ruleLines(lines.slice(start, lines.indexOf('\t}', start) + 1));
}


test('golden: the full script for two groups (a group peer, egress rules, IPv4 and IPv6) and three ports', () => {
  const c = smallCase();
  assert.equal(script(c.groups, c.ports), GOLDEN);
});

test('the fragment: sg_ names only, no ct in the bridge table, no drop policy, a valid skeleton when empty', () => {
  const c = smallCase();
  const f = renderSecurityFragment(c.groups, c.ports);
  for (const line of [...f.inet, ...f.bridge]) {
    const m = /^\t(set|map|chain) (\S+) \{$/.exec(line);
    if (m) assert.match(m[2]!, /^sg_/, line);
    assert.ok(!/^\t\ttype .* hook/.test(line) || /policy accept;$/.test(line), line);
    assert.ok(/^\t(\t|# |(set|map|chain) |\}$)/.test(line), `one tab deep: ${JSON.stringify(line)}`);
  }
  assert.equal(f.bridge.filter((l) => /\bct /.test(l)).length, 0);
  assert.ok(f.inet.some((l) => /ct state established,related accept/.test(l)));
  assert.throws(() => renderRuleset('bad name', [f]), /nft table name/);
  // With nothing at all: empty sets and maps, the same fixed chains.
  const empty = renderSecurityFragment([], []);
  assert.match(empty.inet.join('\n'), /map sg_in4 \{\n\t\ttype ipv4_addr : verdict\n\t\}/);
  const fixed = Object.values(INET_FIXED_CHAINS).flatMap((c) => c.rules);
  assert.deepEqual(ruleLines(empty.inet), fixed);
  assert.deepEqual(ruleLines(empty.bridge), BRIDGE_PREROUTING_RULES);
  assert.deepEqual(ruleLines(f.bridge), BRIDGE_PREROUTING_RULES);
  assert.deepEqual(ruleLines(f.inet).slice(-fixed.length), fixed);
  assert.match(script([], []), /^table bridge nimbo \{\n\t# security groups, layer 2/m);
});

test('rendering is deterministic and independent of input order and address spelling', () => {
  const c = bigCase(300, 4, 6, 7);
  const a = renderSecurityFragment(c.groups, c.ports);
  assert.deepEqual(renderSecurityFragment(c.groups, c.ports), a);
  const r = prng(99);
  const shuffle = <T>(xs: T[]) => xs.map((x) => [r(), x] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
  const groups: SecurityGroup[] = shuffle(c.groups).map((g) => ({ ...g, rules: shuffle(g.rules) }));
  const ports: Port[] = shuffle(c.ports).map((p) => ({ ...p, ipv4: shuffle(p.ipv4), ipv6: shuffle(p.ipv6).map((x) => x.toUpperCase()), groups: shuffle(p.groups) }));
  assert.deepEqual(renderSecurityFragment(groups, ports), a);
});

test('1,000 rules: the number of rules does not grow with security-group rules, only set elements do', () => {
  const small = renderSecurityFragment(bigCase(200).groups, bigCase(200).ports);
  const big = renderSecurityFragment(bigCase(1000).groups, bigCase(1000).ports);
  assert.deepEqual(ruleLines(big.inet), ruleLines(small.inet));
  assert.deepEqual(ruleLines(big.bridge), BRIDGE_PREROUTING_RULES);
  // Fixed chains + 12 lookups per group (6 per direction) + one jump per (port, group) for ingress
  // + per egress-restricted port one jump per (port, group with egress rules) and a drop: 6 ports
  // attached to 10 (port, group) pairs, every group has egress rules.
  const fixed = Object.values(INET_FIXED_CHAINS).flatMap((c) => c.rules).length;
  assert.equal(ruleLines(big.inet).length, fixed + 12 * 4 + 10 + (10 + 6));
  assert.ok(big.inet.length > small.inet.length + 400, 'elements grow');
  // The group chains are reached through verdict maps keyed by address only.
  assert.deepEqual(ruleLines(big.inet).filter((l) => l.includes('vmap')), ['ip saddr vmap @sg_out4', 'ip6 saddr vmap @sg_out6', 'ip daddr vmap @sg_in4', 'ip6 daddr vmap @sg_in6']);
});

type Box = { a: [bigint, bigint]; proto: string; p: [number, number] };

/** Parse "A[-B|/N] . proto . P[-Q]" (IPv4 or IPv6) into ranges. */
function parseL4(e: string): Box {
  const [addr, proto, port] = e.split(' . ') as [string, string, string];
  const v6 = addr.includes(':');
  const ip = (s: string) => (v6 ? parseIpv6(s) : BigInt(s.split('.').reduce((n, o) => n * 256 + Number(o), 0)));
  let a: [bigint, bigint];
  if (addr.includes('/')) {
    const [base, len] = addr.split('/') as [string, string];
    a = [ip(base), ip(base) + (1n << BigInt((v6 ? 128 : 32) - Number(len))) - 1n];
  } else if (addr.includes('-')) a = addr.split('-').map(ip) as [bigint, bigint];
  else a = [ip(addr), ip(addr)];
  const p = (port.includes('-') ? port.split('-').map(Number) : [Number(port), Number(port)]) as [number, number];
  return { a, proto, p };
}

for (const fam of [4, 6] as const) {
  test(`IPv${fam}: overlapping rules become disjoint set elements that match exactly the union of the rules`, () => {
    const rules: Rule[] = randomRules(600, 3).filter(
      (r) => r.direction === 'ingress' && (r.protocol === 'tcp' || r.protocol === 'udp') && typeof r.source === 'string' && r.source.includes(':') === (fam === 6),
    );
    assert.ok(rules.length > 50);
    const port: Port = { tap: 'tap0', mac: '52:54:00:00:00:01', ipv4: ['10.77.0.2'], ipv6: [], groups: ['g'] };
    const els = setElements(renderSecurityFragment([{ name: 'g', rules }], [port]).inet, `sg_g0_in${fam}_l4`).map(parseL4);
    const overlap = <T extends bigint | number>(x: [T, T], y: [T, T]) => x[0] <= y[1] && y[0] <= x[1];
    for (let i = 0; i < els.length; i++) {
      for (let j = i + 1; j < els.length; j++) {
        const x = els[i]!;
        const y = els[j]!;
        assert.ok(!(x.proto === y.proto && overlap(x.a, y.a) && overlap(x.p, y.p)), `elements ${i} and ${j} overlap`);
      }
    }
    const r = prng(5);
    const boxes = rules.map((x) => ({ ...parseL4(`${String(x.source)} . ${x.protocol} . 0`), p: x.ports ? [x.ports.from, x.ports.to] : [0, 65535] }) as Box);
    const inside = (b: Box, ip: bigint, proto: string, p: number) => b.proto === proto && b.a[0] <= ip && ip <= b.a[1] && b.p[0] <= p && p <= b.p[1];
    const top = fam === 4 ? 1n << 32n : 1n << 128n;
    for (let k = 0; k < 20000; k++) {
      // Probe near rule corners as well as at random.
      const box = boxes[Math.floor(r() * boxes.length)]!;
      const rnd = (BigInt(Math.floor(r() * 2 ** 32)) << 96n) | BigInt(Math.floor(r() * 2 ** 32));
      const ip = r() < 0.7 ? box.a[Math.floor(r() * 2)]! + BigInt(Math.floor(r() * 3) - 1) : rnd % top;
      const p = r() < 0.5 ? box.p[Math.floor(r() * 2)]! + Math.floor(r() * 3) - 1 : Math.floor(r() * 65536);
      const proto = r() < 0.5 ? 'tcp' : 'udp';
      assert.equal(els.some((e) => inside(e, ip, proto, p)), boxes.some((b) => inside(b, ip, proto, p)), `${ip} ${proto} ${p}`);
    }
  });
}

test('peers: groups expand to IPv4 and IPv6 members, no peer means both families, icmp means ICMPv6 for IPv6', () => {
  const c = smallCase();
  const f = renderSecurityFragment(c.groups, c.ports).inet;
  // web allows icmp from admin members (tap0); admin may reach web members (tap0, tap1) with anything.
  assert.deepEqual(setElements(f, 'sg_g1_in4_icmp'), ['10.77.0.10', '10.77.0.20']);
  assert.deepEqual(setElements(f, 'sg_g1_in6_icmp'), ['fd00:77::10', 'fd00:77::20']);
  assert.deepEqual(setElements(f, 'sg_g0_out4_all'), ['10.77.0.10/31', '10.77.0.20']);
  assert.deepEqual(setElements(f, 'sg_g0_out6_all'), ['fd00:77::10/127', 'fd00:77::20']);
  assert.ok(chainRules(f, 'sg_g1_in').includes('meta l4proto ipv6-icmp ip6 saddr @sg_g1_in6_icmp accept'));
  // A rule without a peer: all of IPv4 and all of IPv6; an IPv4 peer adds nothing to IPv6 sets.
  const any = renderSecurityFragment([{ name: 'g', rules: [{ id: 'a', direction: 'ingress', protocol: 'any' }, { id: 'b', direction: 'egress', protocol: 'icmp', destination: '10.0.0.0/8' }] }], []).inet;
  assert.deepEqual(setElements(any, 'sg_g0_in4_all'), ['0.0.0.0/0']);
  assert.deepEqual(setElements(any, 'sg_g0_in6_all'), ['::/0']);
  assert.deepEqual(setElements(any, 'sg_g0_out4_icmp'), ['10.0.0.0/8']);
  assert.deepEqual(setElements(any, 'sg_g0_out6_icmp'), []);
  // A group with no members contributes nothing.
  const lonely = renderSecurityFragment([...c.groups, { name: 'zz', rules: [{ id: 'x', direction: 'ingress', protocol: 'tcp', source: { group: 'zz' } }] }], c.ports).inet;
  assert.deepEqual(setElements(lonely, 'sg_g2_in4_l4'), []);
  assert.deepEqual(setElements(lonely, 'sg_g2_in6_l4'), []);
});

test('ports: anti-spoofing sets, address-keyed maps, default-deny ingress, egress restricted only when a group has egress rules', () => {
  const c = smallCase();
  const f = renderSecurityFragment(c.groups, c.ports);
  assert.deepEqual(setElements(f.bridge, 'sg_port_ipv4'), ['"tap0" . 10.77.0.10', '"tap0" . 10.77.0.20', '"tap1" . 10.77.0.11', '"tap2" . 10.77.0.12']);
  assert.deepEqual(setElements(f.bridge, 'sg_port_ipv6'), ['"tap0" . fd00:77::10', '"tap0" . fd00:77::20', '"tap1" . fd00:77::11']);
  assert.deepEqual(setElements(f.bridge, 'sg_port_nd_target')[0], '"tap0" . 0xfd000077000000000000000000000010');
  // tap2 has no groups: its address maps straight to drop; tap1's groups have no egress rules: not in sg_out4.
  assert.deepEqual(setElements(f.inet, 'sg_in4'), ['10.77.0.10 : jump sg_p0_in', '10.77.0.20 : jump sg_p0_in', '10.77.0.11 : jump sg_p1_in', '10.77.0.12 : drop']);
  assert.deepEqual(setElements(f.inet, 'sg_out4'), ['10.77.0.10 : jump sg_p0_out', '10.77.0.20 : jump sg_p0_out']);
  assert.deepEqual(setElements(f.inet, 'sg_out6'), ['fd00:77::10 : jump sg_p0_out', 'fd00:77::20 : jump sg_p0_out']);
  assert.deepEqual(chainRules(f.inet, 'sg_p0_out'), ['jump sg_g0_out', 'drop']);
  assert.deepEqual(chainRules(f.inet, 'sg_p0_in'), ['jump sg_g0_in', 'jump sg_g1_in']);
  // Stateful: established first everywhere; invalid dropped only after the port-address test; the host
  // (output) is filtered by ingress rules, except DHCP replies; ND only with hop limit 255.
  for (const ch of ['sg_forward_out', 'sg_forward_in', 'sg_input', 'sg_output']) assert.equal(chainRules(f.inet, ch)[0], 'ct state established,related accept');
  assert.deepEqual(chainRules(f.inet, 'sg_to_port').slice(1), ['ct state invalid drop', 'ip daddr vmap @sg_in4', 'ip6 daddr vmap @sg_in6', 'drop']);
  assert.match(chainRules(f.inet, 'sg_to_port')[0]!, /^icmpv6 type \{ nd-router-advert, .* \} ip6 hoplimit 255 accept$/);
  assert.ok(chainRules(f.inet, 'sg_output').includes('udp sport 67 udp dport 68 accept'));
  assert.ok(!chainRules(f.inet, 'sg_forward_in').some((l) => l.includes('udp sport 67')), 'DHCP replies pass only from the host');
  const b = ruleLines(f.bridge);
  assert.ok(b.indexOf('iifname . ether saddr != @sg_port_mac drop') < b.indexOf('udp sport { 67, 547 } drop'));
  assert.ok(b.includes('icmpv6 type { nd-router-advert, nd-redirect } drop'));
  assert.ok(f.bridge.includes('\t\ttype filter hook prerouting priority -200; policy accept;'));
});

test('IPv6 text: parse and canonical format (RFC 5952), refusals', () => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0000', '2001:db8:0:1::'],
    ['fe80::1:2', 'fe80::1:2'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [text, canon] of cases) assert.equal(canonicalIpv6(text), canon, text);
  assert.equal(parseIpv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), (1n << 128n) - 1n);
  assert.equal(formatIpv6(1n << 112n), '1::');
  for (const bad of ['', ':', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', '1:2:3:4:5:6:7::8', '::ffff:1.2.3.04']) {
    assert.throws(() => parseIpv6(bad), code(/is not an IPv6 address/), bad);
  }
});

test('validation: bad CIDR, ports, protocol, direction, names and references are refused clearly', () => {
  const ok: Rule = { id: 'a', direction: 'ingress', protocol: 'tcp', ports: { from: 22, to: 22 }, source: '10.0.0.0/8' };
  assert.deepEqual(validateRule(ok), ok);
  assert.deepEqual(validateRule({ ...ok, source: '10.0.0.1' }).source, '10.0.0.1/32');
  assert.deepEqual(validateRule({ ...ok, source: '2001:DB8::1' }).source, '2001:db8::1/128');
  assert.deepEqual(validateRule({ ...ok, source: '2001:db8:0::/32' }).source, '2001:db8::/32');
  assert.equal(validateAddressBlock('::/0', 'x'), '::/0');
  assert.throws(() => validateRule({ ...ok, source: '2001:db8::1/32' }), code(/host bits set; did you mean 2001:db8::\/32/));
  assert.throws(() => validateRule({ ...ok, source: '2001:db8::/129' }), code(/invalid prefix length/));
  assert.throws(() => validateRule({ ...ok, source: '2001:db8:::/48' }), code(/source.*not an IPv6 address/));
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
  const p: Port = { tap: 'tap0', mac: '52:54:00:00:00:01', ipv4: ['10.0.0.2'], ipv6: ['2001:db8::2'], groups: ['web'] };
  assert.throws(() => validateFirewall([g('web'), g('web')], []), code(/defined twice/));
  assert.throws(() => validateFirewall([g('web', [ok, ok])], []), code(/rule id "a" is used twice/));
  assert.throws(() => validateFirewall([g('web', [{ ...ok, source: { group: 'db' } }])], []), code(/unknown security group "db"/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, groups: ['db'] }]), code(/attached to unknown security group "db"/));
  assert.throws(() => validateFirewall([g('web')], [p, p]), code(/listed twice/));
  assert.throws(() => validateFirewall([g('web')], [p, { ...p, tap: 'tap1', ipv6: [] }]), code(/10.0.0.2 is given to both port "tap0" and port "tap1"/));
  assert.throws(() => validateFirewall([g('web')], [p, { ...p, tap: 'tap1', ipv4: [], ipv6: ['2001:DB8::2'] }]), code(/2001:db8::2 is given to both/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, tap: 'x;y' }]), code(/tap name/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, mac: '01:00:5e:00:00:01' }]), code(/multicast/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, ipv4: ['10.0.0'] }]), code(/port "tap0".*not an IPv4 address/));
  assert.throws(() => validateFirewall([g('web')], [{ ...p, ipv6: ['2001:db8::/64'] }]), code(/port "tap0".*not an IPv6 address/));
  for (const bad of ['::', '::1', 'ff02::1', '::ffff:10.0.0.1']) {
    assert.throws(() => validateFirewall([g('web')], [{ ...p, ipv6: [bad] }]), code(/not a unicast IPv6 address/), bad);
  }
  assert.throws(() => validateFirewall([g('web')], [{ ...p, ipv6: 'x' as never }]), code(/ipv6 must be a list/));
  assert.throws(() => validateFirewall([g('Web')], []), code(/security group name "Web" is invalid/));
  // Ports stored before IPv6 existed have no ipv6 key: none. Addresses come back canonical.
  const { ipv6: _, ...old } = p;
  assert.deepEqual(validatePortSpec(old as Port).ipv6, []);
  assert.deepEqual(validatePortSpec({ ...p, ipv6: ['FE80::1', 'fe80:0::1', '2001:db8::2'] }).ipv6, ['fe80::1', '2001:db8::2']);
  // The renderer validates too: nothing unvalidated reaches a script.
  assert.throws(() => renderSecurityFragment([g('web', [{ ...ok, ports: { from: 9, to: 1 } }])], []), code(/is empty/));
});
