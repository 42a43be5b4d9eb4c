import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metadataInputRules, renderMetadataFragment, validateEndpoints } from './metadata-nft.js';
import { renderNetworkFragment } from './firewall/nft-nat.js';

const eps = [
  { bridge: 'nmbr1', address: '10.9.0.12', gateway: '10.9.0.1', port: 17001 },
  { bridge: 'nmbr0', address: '10.8.0.5', gateway: '10.8.0.1', port: 17000 },
];

test('renderMetadataFragment: golden per-NIC DNAT and the link-local drop', () => {
  assert.deepEqual(renderMetadataFragment(eps, ['nmbr1', 'nmbr0', 'nmbr1']), {
    inet: [
      '\tchain md_prerouting {',
      '\t\ttype nat hook prerouting priority dstnat - 10; policy accept;',
      '\t\tiifname "nmbr0" ip saddr 10.8.0.5 ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.8.0.1:17000',
      '\t\tiifname "nmbr1" ip saddr 10.9.0.12 ip daddr 169.254.169.254 tcp dport 80 dnat ip to 10.9.0.1:17001',
      '\t}',
      '\tchain md_forward {',
      '\t\ttype filter hook forward priority filter - 10; policy accept;',
      '\t\tiifname { "nmbr0", "nmbr1" } ip daddr 169.254.0.0/16 drop',
      '\t}',
    ],
    bridge: [],
  });
  assert.deepEqual(renderMetadataFragment([], []), { inet: [], bridge: [] });
  // Without endpoints the bridges still never reach 169.254/16 beyond the host.
  assert.ok(renderMetadataFragment([], ['nmbr0']).inet.includes('\t\tiifname "nmbr0" ip daddr 169.254.0.0/16 drop'));
});

test('metadataInputRules: one accept for exactly (bridge, source, gateway, port) after a DNAT, before net_input drops', () => {
  assert.deepEqual(metadataInputRules(eps), [
    'ct status dnat iifname . ip saddr . ip daddr . tcp dport { "nmbr0" . 10.8.0.5 . 10.8.0.1 . 17000, "nmbr1" . 10.9.0.12 . 10.9.0.1 . 17001 } accept',
  ]);
  assert.deepEqual(metadataInputRules([]), []);
  const net = { name: 'n0', bridge: 'nmbr0', subnet: '10.8.0.0/24', gateway: '10.8.0.1', mode: 'nat' as const, domain: 'nimbo', stateDir: '/tmp/x', nftTable: 'nimbo_t' };
  const inp = renderNetworkFragment([net], metadataInputRules([eps[1]!])).inet;
  const accept = inp.findIndex((l) => l.includes('ct status dnat iifname . ip saddr'));
  const drop = inp.lastIndexOf('\t\tiifname "nmbr0" drop');
  assert.ok(accept > 0 && drop > accept, 'the accept comes before the final drop of net_input');
});

test('validateEndpoints: refuses bad names, addresses and ports, and shared ports or sources', () => {
  assert.throws(() => validateEndpoints([{ ...eps[0]!, bridge: 'a b' }]), /bridge name/);
  assert.throws(() => validateEndpoints([{ ...eps[0]!, address: '10.0.0.300' }]), /IPv4|address/);
  assert.throws(() => validateEndpoints([{ ...eps[0]!, port: 0 }]), /invalid metadata port 0/);
  assert.throws(() => validateEndpoints([eps[0]!, { ...eps[1]!, port: 17001 }]), /port 17001 is given to two NICs/);
  assert.throws(() => validateEndpoints([eps[0]!, { ...eps[0]!, port: 17009 }]), /two metadata endpoints for 10.9.0.12/);
});
