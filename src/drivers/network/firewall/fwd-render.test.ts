import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import { renderForwardFragment, type ForwardRenderOptions } from './fwd-render.js';
import { renderRuleset } from './ruleset.js';
import { assertNoForwardConflicts, findForwardConflicts, validateFloatingIp, validatePortForward, type FloatingIp, type PortForward } from './fwd-model.js';

const ssh: PortForward = { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, targetAddress: '10.77.0.5', targetPort: 22 };
const web: PortForward = { protocol: 'tcp', hostAddress: '192.0.2.1', hostPort: 8000, hostPortEnd: 8002, targetAddress: '10.77.0.6', targetPort: 9000 };
const dns: PortForward = { protocol: 'udp', hostAddress: '192.0.2.1', hostPort: 53, targetAddress: '10.77.0.6', targetPort: 5353 };
const fip: FloatingIp = { address: '198.51.100.7', targetAddress: '10.77.0.9' };
const renderForwardRuleset = (table: string, f: PortForward[], fl: FloatingIp[], o?: ForwardRenderOptions) => renderRuleset(table, [renderForwardFragment(f, fl, o)]);
const code = (c: string, re?: RegExp) => (e: unknown) => e instanceof NimboError && e.code === c && (!re || re.test(e.message));

test('forward ruleset golden: forwards, a range, a floating IP, guest subnets', () => {
  assert.equal(
    renderForwardRuleset('nimbo_fwd', [web, dns, ssh], [fip], { guestSubnets: ['10.78.0.0/24', '10.77.0.0/24'] }),
    `# nimbo: the ruleset of one nimbo daemon; generated, do not edit
table inet nimbo_fwd {}
delete table inet nimbo_fwd
table bridge nimbo_fwd {}
delete table bridge nimbo_fwd
table inet nimbo_fwd {
	map fwd_tcp {
		type ipv4_addr . inet_service : ipv4_addr . inet_service
		elements = { 127.0.0.1 . 2222 : 10.77.0.5 . 22,
			     192.0.2.1 . 8000 : 10.77.0.6 . 9000,
			     192.0.2.1 . 8001 : 10.77.0.6 . 9001,
			     192.0.2.1 . 8002 : 10.77.0.6 . 9002 }
	}
	map fwd_udp {
		type ipv4_addr . inet_service : ipv4_addr . inet_service
		elements = { 192.0.2.1 . 53 : 10.77.0.6 . 5353 }
	}
	map fwd_floating_in {
		type ipv4_addr : ipv4_addr
		elements = { 198.51.100.7 : 10.77.0.9 }
	}
	map fwd_floating_out {
		type ipv4_addr : ipv4_addr
		elements = { 10.77.0.9 : 198.51.100.7 }
	}
	set fwd_guest_nets {
		type ipv4_addr
		flags interval
		elements = { 10.77.0.0/24,
			     10.78.0.0/24 }
	}
	chain fwd_prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 127.0.0.0/8 return
		meta nfproto ipv4 dnat ip to ip daddr . tcp dport map @fwd_tcp
		meta nfproto ipv4 dnat ip to ip daddr . udp dport map @fwd_udp
		meta nfproto ipv4 dnat ip to ip daddr map @fwd_floating_in
	}
	chain fwd_output {
		type nat hook output priority -100; policy accept;
		meta nfproto ipv4 dnat ip to ip daddr . tcp dport map @fwd_tcp
		meta nfproto ipv4 dnat ip to ip daddr . udp dport map @fwd_udp
		meta nfproto ipv4 dnat ip to ip daddr map @fwd_floating_in
	}
	chain fwd_postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ct status dnat ip saddr 127.0.0.0/8 masquerade
		ct status dnat ip saddr @fwd_guest_nets ip daddr @fwd_guest_nets masquerade
		meta nfproto ipv4 ip daddr != @fwd_guest_nets snat ip to ip saddr map @fwd_floating_out
	}
}
table bridge nimbo_fwd {
}
`,
  );
});

test('forward ruleset: empty input gives empty maps, same rules; input order does not matter', () => {
  const s = renderForwardRuleset('nimbo_fwd', [], []);
  assert.doesNotMatch(s, /elements/);
  assert.equal(s.match(/^\tmap /gm)?.length, 4);
  assert.equal(renderForwardRuleset('t', [ssh, web, dns], [fip]), renderForwardRuleset('t', [dns, web, ssh], [fip]));
  assert.match(s, /^table inet nimbo_fwd \{$/m);
});

test('forward ruleset: bad table, bad input and clashes are refused', () => {
  assert.throws(() => renderForwardRuleset('t', [{ ...ssh, hostPort: 0 }], []), code('InvalidArgument', /port number/));
  assert.throws(() => renderForwardRuleset('t', [ssh, { ...ssh, targetPort: 23 }], []), code('Conflict', /tcp 127.0.0.1:2222 is forwarded twice/));
  assert.throws(() => renderForwardRuleset('t', [web, { ...web, hostPort: 8002, hostPortEnd: undefined }], []), code('Conflict', /8002 is forwarded twice/));
  assert.throws(() => renderForwardRuleset('t', [], [fip, { ...fip, targetAddress: '10.77.0.10' }]), code('Conflict', /mapped twice/));
  assert.throws(() => renderForwardRuleset('t', [], [fip, { ...fip, address: '198.51.100.8' }]), code('Conflict', /two floating IPs/));
  assert.throws(() => renderForwardRuleset('t', [{ ...ssh, hostAddress: fip.address }], [fip]), code('Conflict', /clashes with the floating IP/));
  assert.throws(() => renderForwardRuleset('t', [], [], { guestSubnets: ['10.0.0.1/24'] }), code('InvalidArgument', /host bits/));
  // Same port, other protocol or other address: fine.
  renderForwardRuleset('t', [ssh, { ...ssh, protocol: 'udp' }, { ...ssh, hostAddress: '127.0.0.2' }], []);
});

test('port forward validation: clear InvalidArgument messages', () => {
  assert.deepEqual(validatePortForward(ssh), { ...ssh, hostPortEnd: 2222 });
  const bad: [Partial<PortForward>, RegExp][] = [
    [{ protocol: 'sctp' as 'tcp' }, /must be "tcp" or "udp"/],
    [{ hostAddress: '0.0.0.0' }, /concrete address instead of 0.0.0.0/],
    [{ hostAddress: '10.0.0' }, /not an IPv4 address/],
    [{ hostAddress: '224.0.0.1' }, /multicast/],
    [{ targetAddress: '127.0.0.1' }, /target address "127.0.0.1" is a loopback/],
    [{ hostPort: 65536 }, /65536 is not a port number/],
    [{ hostPort: 1.5 }, /not a port number/],
    [{ targetPort: '22' as unknown as number }, /target port 22 is not a port number/],
    [{ hostPort: 100, hostPortEnd: 90 }, /ends before it starts/],
    [{ hostPort: 1, hostPortEnd: 5000 }, /spans 5000 ports; at most 4096/],
    [{ hostPort: 100, hostPortEnd: 110, targetPort: 65530 }, /goes past 65535/],
  ];
  for (const [patch, re] of bad) assert.throws(() => validatePortForward({ ...ssh, ...patch }), code('InvalidArgument', re), JSON.stringify(patch));
  assert.throws(() => validatePortForward(null as unknown as PortForward), code('InvalidArgument', /must be an object/));
});

test('floating IP validation', () => {
  assert.deepEqual(validateFloatingIp(fip), fip);
  assert.throws(() => validateFloatingIp({ ...fip, address: '127.0.0.5' }), code('InvalidArgument', /loopback/));
  assert.throws(() => validateFloatingIp({ ...fip, targetAddress: fip.address }), code('InvalidArgument', /cannot map to itself/));
  assert.throws(() => validateFloatingIp({ ...fip, address: '255.255.255.255' }), code('InvalidArgument', /broadcast/));
});

test('conflicts: same address/port/protocol, overlapping ranges, floating IP reuse', () => {
  const existing = { forwards: [ssh, web, dns], floatingIps: [fip] };
  assert.deepEqual(findForwardConflicts(existing, { ...ssh, targetPort: 2022 }), [
    'tcp 127.0.0.1:2222 overlaps the forward 127.0.0.1:2222 -> 10.77.0.5:22',
  ]);
  assert.deepEqual(findForwardConflicts(existing, { ...web, hostPort: 7990, hostPortEnd: 8000 }), [
    'tcp 192.0.2.1:7990-8000 overlaps the forward 192.0.2.1:8000-8002 -> 10.77.0.6:9000-9002',
  ]);
  assert.deepEqual(findForwardConflicts(existing, { ...web, hostPort: 8003, hostPortEnd: 8010 }), []);
  assert.deepEqual(findForwardConflicts(existing, { ...web, protocol: 'udp' }), []);
  assert.deepEqual(findForwardConflicts(existing, { ...web, hostAddress: '192.0.2.2' }), []);
  assert.deepEqual(findForwardConflicts(existing, { ...ssh, hostAddress: fip.address }), [
    '198.51.100.7 is the floating IP of 10.77.0.9; all its ports already go there',
  ]);
  assert.deepEqual(findForwardConflicts(existing, { address: fip.address, targetAddress: '10.77.0.10' }), [
    'floating IP 198.51.100.7 is already mapped to 10.77.0.9',
  ]);
  assert.deepEqual(findForwardConflicts(existing, { address: '198.51.100.8', targetAddress: fip.targetAddress }), [
    '10.77.0.9 already has the floating IP 198.51.100.7',
  ]);
  assert.deepEqual(findForwardConflicts(existing, { address: '192.0.2.1', targetAddress: '10.77.0.11' }), [
    'floating IP 192.0.2.1 is used by the tcp port forward 192.0.2.1:8000-8002',
    'floating IP 192.0.2.1 is used by the udp port forward 192.0.2.1:53',
  ]);
  assert.throws(() => assertNoForwardConflicts(existing, ssh), code('Conflict', /overlaps/));
  assertNoForwardConflicts(existing, { ...ssh, hostPort: 2223 });
  assert.throws(() => findForwardConflicts(existing, { ...ssh, hostPort: -1 }), code('InvalidArgument'));
});
