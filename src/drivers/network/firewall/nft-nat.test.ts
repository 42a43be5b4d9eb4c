import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeExec } from '../../../host/fake-exec.js';
import { MemoryNetFs } from '../memory-fs.js';
import { apply, enableIpForward, removeTable, renderNatRuleset, tableExists } from './nft-nat.js';
import type { NetworkSpec } from '../types.js';

const nat: NetworkSpec = {
  name: 'default',
  bridge: 'nimbobr0',
  subnet: '10.77.0.0/24',
  gateway: '10.77.0.1',
  nat: true,
  domain: 'nimbo',
  stateDir: '/var/lib/nimbo/networks/default',
  nftTable: 'nimbo',
};
const iso: NetworkSpec = { ...nat, name: 'iso', bridge: 'nimbobr1', subnet: '10.78.0.0/24', gateway: '10.78.0.1', nat: false };

test('nft ruleset golden: one NAT and one isolated network', () => {
  assert.equal(
    renderNatRuleset('nimbo', [iso, nat]),
    `# nimbo: NAT and isolation of nimbo networks; generated, do not edit
table inet nimbo {}
delete table inet nimbo
table inet nimbo {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.77.0.0/24 oifname != "nimbobr0" masquerade comment "nimbo network default"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		iifname "nimbobr0" oifname "nimbobr0" accept
		iifname "nimbobr0" oifname { "nimbobr1" } drop
		iifname "nimbobr0" ip saddr 10.77.0.0/24 accept
		iifname "nimbobr0" drop
		oifname "nimbobr0" drop
		iifname "nimbobr1" oifname "nimbobr1" accept
		iifname "nimbobr1" oifname { "nimbobr0" } drop
		iifname "nimbobr1" drop
		oifname "nimbobr1" drop
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname { "nimbobr0", "nimbobr1" } ct state established,related accept
		iifname { "nimbobr0", "nimbobr1" } udp dport 67 accept
		iifname { "nimbobr0", "nimbobr1" } meta l4proto { tcp, udp } th dport 53 accept
		iifname { "nimbobr0", "nimbobr1" } icmp type echo-request accept
		iifname { "nimbobr0", "nimbobr1" } drop
	}
}
`,
  );
});

test('nft ruleset: no networks gives empty chains; never a drop policy', () => {
  const s = renderNatRuleset('nimbo', []);
  assert.doesNotMatch(s, /drop|masquerade/);
  assert.equal(s.match(/policy accept;/g)?.length, 3);
  assert.doesNotMatch(renderNatRuleset('nimbo', [nat, iso]), /policy drop/);
  assert.throws(() => renderNatRuleset('bad name', [nat]), /nft table name/);
});

test('apply pipes the script to nft -f -; removeTable is idempotent by construction', async () => {
  const exec = new FakeExec();
  await apply(exec, 'SCRIPT');
  await removeTable(exec, 'nimbo');
  assert.deepEqual(exec.calls, [
    { argv: ['nft', '-f', '-'], input: 'SCRIPT' },
    { argv: ['nft', '-f', '-'], input: 'table inet nimbo {}\ndelete table inet nimbo\n' },
  ]);
  await assert.rejects(removeTable(exec, 'x;y'), /nft table name/);
});

test('tableExists asks nft list table', async () => {
  const exec = new FakeExec().on(['nft', 'list', 'table', 'inet', 'gone'], { code: 1, stderr: 'No such file or directory' });
  assert.equal(await tableExists(exec, 'nimbo'), true);
  assert.equal(await tableExists(exec, 'gone'), false);
});

test('enableIpForward writes 1 only when needed', async () => {
  const fs = new MemoryNetFs();
  fs.files.set('/proc/sys/net/ipv4/ip_forward', { data: '0\n' });
  await enableIpForward(fs);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.data, '1\n');
  fs.files.set('/proc/sys/net/ipv4/ip_forward', { data: '1\n', mode: 1 });
  await enableIpForward(fs);
  assert.equal(fs.files.get('/proc/sys/net/ipv4/ip_forward')?.mode, 1, 'not rewritten');
});
