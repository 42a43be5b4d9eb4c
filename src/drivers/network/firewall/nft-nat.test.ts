import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { apply, removeTable, renderNetworkFragment, tableExists } from './nft-nat.js';
import { renderRuleset } from './ruleset.js';
import type { NetworkSpec } from '../types.js';

const base = { domain: 'nimbo', nftTable: 'nimbo' };
const nat: NetworkSpec = {
  ...base,
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  mode: 'nat',
  stateDir: '/s/default',
  ipv6: { subnet: 'fd00:77::/64', gateway: 'fd00:77::1' },
};
const routed: NetworkSpec = {
  ...base,
  name: 'pub',
  bridge: 'nimbobr1',
  subnet: '10.78.0.0/24',
  gateway: '10.78.0.1',
  mode: 'routed',
  stateDir: '/s/pub',
  ipv6: { subnet: '2001:db8:78::/64', gateway: '2001:db8:78::1' },
};
const iso: NetworkSpec = {
  ...base,
  name: 'iso',
  bridge: 'nimbobr2',
  subnet: '10.79.0.0/24',
  gateway: '10.79.0.1',
  mode: 'isolated',
  stateDir: '/s/iso',
  vxlan: { device: 'nimbovx2', vni: 42, local: '192.168.77.1', port: 4789, peers: ['192.168.77.2'] },
};

test('network fragment golden: nat (ULA IPv6), routed (global IPv6), isolated overlay', () => {
  const f = renderNetworkFragment([iso, routed, nat]);
  assert.equal(
    f.inet.join('\n'),
    `	chain net_loopback_guard {
		type filter hook prerouting priority raw; policy accept;
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } ip daddr 127.0.0.0/8 drop
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } ip6 daddr ::1 drop
	}
	chain net_postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.77.0.0/24 oifname != "nimbobr0" masquerade comment "nimbo network default"
		ip6 saddr fd00:77::/64 oifname != "nimbobr0" masquerade comment "nimbo network default"
	}
	chain net_forward {
		type filter hook forward priority filter; policy accept;
		iifname "nimbobr0" oifname "nimbobr0" accept
		iifname "nimbobr1" oifname "nimbobr1" accept
		iifname "nimbobr2" oifname "nimbobr2" accept
		iifname "nimbobr2" drop
		oifname "nimbobr2" drop
		oifname { "nimbobr0", "nimbobr1" } ct status dnat accept
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } oifname { "nimbobr0", "nimbobr1", "nimbobr2" } drop
		iifname "nimbobr0" ip saddr 10.77.0.0/24 accept
		iifname "nimbobr0" ip6 saddr fd00:77::/64 accept
		iifname "nimbobr0" drop
		oifname "nimbobr0" ct state established,related accept
		oifname "nimbobr0" drop
		iifname "nimbobr1" ip saddr 10.78.0.0/24 accept
		iifname "nimbobr1" ip6 saddr 2001:db8:78::/64 accept
		iifname "nimbobr1" drop
		oifname "nimbobr1" ct state established,related accept
		oifname "nimbobr1" ip daddr 10.78.0.0/24 accept
		oifname "nimbobr1" ip6 daddr 2001:db8:78::/64 accept
		oifname "nimbobr1" drop
	}
	chain net_input {
		type filter hook input priority filter; policy accept;
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } ct state established,related accept
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } udp dport 67 accept
		iifname { "nimbobr0", "nimbobr1" } udp dport 547 accept
		iifname . ip daddr { "nimbobr0" . 10.77.0.1, "nimbobr1" . 10.78.0.1, "nimbobr2" . 10.79.0.1 } meta l4proto { tcp, udp } th dport 53 accept
		iifname . ip6 daddr { "nimbobr0" . fd00:77::1, "nimbobr1" . 2001:db8:78::1 } meta l4proto { tcp, udp } th dport 53 accept
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } icmp type echo-request accept
		iifname { "nimbobr0", "nimbobr1" } icmpv6 type { echo-request, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
		iifname { "nimbobr0", "nimbobr1", "nimbobr2" } drop
	}`,
  );
  assert.equal(
    f.bridge.join('\n'),
    `	chain net_overlay_local {
		meta l4proto udp th dport { 67, 68, 546, 547 } drop
		icmpv6 type { nd-router-solicit, nd-router-advert } drop
	}
	chain net_overlay_forward {
		type filter hook forward priority filter; policy accept;
		iifname "nimbovx2" jump net_overlay_local
		oifname "nimbovx2" jump net_overlay_local
	}
	chain net_overlay_input {
		type filter hook input priority filter; policy accept;
		iifname "nimbovx2" jump net_overlay_local
	}
	chain net_overlay_output {
		type filter hook output priority filter; policy accept;
		oifname "nimbovx2" jump net_overlay_local
	}`,
  );
});

test('network fragment golden: one IPv4 NAT network, no overlay -> empty bridge part', () => {
  const { ipv6: _, ...v4 } = nat;
  const f = renderNetworkFragment([v4]);
  assert.equal(
    f.inet.join('\n'),
    `\tchain net_loopback_guard {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname "nimbobr0" ip daddr 127.0.0.0/8 drop
\t\tiifname "nimbobr0" ip6 daddr ::1 drop
\t}
\tchain net_postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.77.0.0/24 oifname != "nimbobr0" masquerade comment "nimbo network default"
\t}
\tchain net_forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname "nimbobr0" oifname "nimbobr0" accept
\t\toifname "nimbobr0" ct status dnat accept
\t\tiifname "nimbobr0" ip saddr 10.77.0.0/24 accept
\t\tiifname "nimbobr0" drop
\t\toifname "nimbobr0" ct state established,related accept
\t\toifname "nimbobr0" drop
\t}
\tchain net_input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "nimbobr0" ct state established,related accept
\t\tiifname "nimbobr0" udp dport 67 accept
\t\tiifname . ip daddr { "nimbobr0" . 10.77.0.1 } meta l4proto { tcp, udp } th dport 53 accept
\t\tiifname "nimbobr0" icmp type echo-request accept
\t\tiifname "nimbobr0" drop
\t}`,
  );
  assert.deepEqual(f.bridge, []);
});

test('network fragment: order-independent, ct status dnat before every drop, never a drop policy', () => {
  const a = renderNetworkFragment([nat, routed, iso]);
  assert.deepEqual(a, renderNetworkFragment([iso, nat, routed]));
  const fwd = a.inet.slice(a.inet.indexOf('\tchain net_forward {'));
  const dnat = fwd.findIndex((l) => l.includes('ct status dnat accept'));
  const firstOpenDrop = fwd.findIndex((l) => /"nimbobr[01]".* drop$/.test(l));
  assert.ok(dnat > 0 && dnat < firstOpenDrop);
  assert.doesNotMatch(a.inet.join('\n'), /policy drop/);
  // A global (non-ULA) prefix is routed, never masqueraded; an isolated network is never masqueraded.
  assert.doesNotMatch(a.inet.join('\n'), /2001:db8:78::\/64 .*masquerade|10\.79\.0\.0\/24 .*masquerade/);
  assert.deepEqual(renderNetworkFragment([]), { inet: [], bridge: [] });
  assert.throws(() => renderNetworkFragment([{ ...nat, bridge: 'bad"name' }]), /bridge name/);
  assert.throws(() => renderNetworkFragment([{ ...nat, mode: 'open' as never }]), /mode/);
});

test('the fragment fits the ruleset of two tables', () => {
  const script = renderRuleset('nimbo', [renderNetworkFragment([nat, iso])]);
  assert.match(script, /^table inet nimbo \{\n\tchain net_loopback_guard \{/m);
  assert.match(script, /^table bridge nimbo \{\n\tchain net_overlay_local \{/m);
});

test('apply pipes the script to nft -f -; removeTable deletes both tables, idempotent by construction', async () => {
  const exec = new FakeExec();
  await apply(exec, 'SCRIPT');
  await removeTable(exec, 'nimbo');
  assert.deepEqual(exec.calls, [
    { argv: ['nft', '-f', '-'], input: 'SCRIPT' },
    { argv: ['nft', '-f', '-'], input: 'table inet nimbo {}\ndelete table inet nimbo\ntable bridge nimbo {}\ndelete table bridge nimbo\n' },
  ]);
  await assert.rejects(removeTable(exec, 'x;y'), /nft table name/);
});

test('tableExists asks nft list table (inet by default, or bridge)', async () => {
  const exec = new FakeExec().on(['nft', 'list', 'table', 'inet', 'gone'], { code: 1, stderr: 'No such file or directory' });
  assert.equal(await tableExists(exec, 'nimbo'), true);
  assert.equal(await tableExists(exec, 'gone'), false);
  assert.equal(await tableExists(exec, 'gone', 'bridge'), true);
  assert.equal(exec.lines().at(-1), 'nft list table bridge gone');
});
