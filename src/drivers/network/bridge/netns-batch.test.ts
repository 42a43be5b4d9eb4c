import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderNetnsBatch } from './netns-batch.js';

const v = (i: number) => ({ host: `nx-ab12-eth${i}`, bridge: 'nxbr0', peer: `eth${i}`, mac: `52:54:00:00:00:0${i + 1}` });

test('one host batch and one inner batch for every NIC, attach first', () => {
  const b = renderNetnsBatch('nx-ab12', [v(0), v(1)], { attachPid: 4242, addresses: [{ dev: 'eth0', cidr: '10.0.0.5/24' }], defaultRoute: { via: '10.0.0.1', dev: 'eth0' } });
  assert.equal(
    b.host,
    'netns attach nx-ab12 4242\n' +
      'link add name nx-ab12-eth0 type veth peer name eth0 address 52:54:00:00:00:01 netns nx-ab12\nlink set dev nx-ab12-eth0 master nxbr0 up\n' +
      'link add name nx-ab12-eth1 type veth peer name eth1 address 52:54:00:00:00:02 netns nx-ab12\nlink set dev nx-ab12-eth1 master nxbr0 up\n',
  );
  assert.equal(b.inner, 'link set dev lo up\nlink set dev eth0 up\nlink set dev eth1 up\naddr replace 10.0.0.5/24 dev eth0\nroute replace default via 10.0.0.1 dev eth0\n');
});

test('veths already there are only put on their bridge again; no attach without a pid', () => {
  const b = renderNetnsBatch('nx-ab12', [v(0)], {}, new Set(['nx-ab12-eth0']));
  assert.equal(b.host, 'link set dev nx-ab12-eth0 master nxbr0 up\n');
  assert.equal(b.inner, 'link set dev lo up\nlink set dev eth0 up\n');
});

test('anything that could break a batch line is refused', () => {
  const bad: [string, () => unknown][] = [
    ['netns', () => renderNetnsBatch('nx ab', [v(0)])],
    ['veth', () => renderNetnsBatch('nx-ab12', [{ ...v(0), host: 'a\nlink del eth0' }])],
    ['mac', () => renderNetnsBatch('nx-ab12', [{ ...v(0), mac: '01:00:5e:00:00:01' }])],
    ['pid', () => renderNetnsBatch('nx-ab12', [], { attachPid: 0 })],
    ['address', () => renderNetnsBatch('nx-ab12', [], { addresses: [{ dev: 'eth0', cidr: '10.0.0.5/24 dev lo' }] })],
    ['gateway', () => renderNetnsBatch('nx-ab12', [], { defaultRoute: { via: '10.0.0.1\n', dev: 'eth0' } })],
  ];
  for (const [what, f] of bad) assert.throws(f, (e: Error & { code?: string }) => e.code === 'InvalidArgument', what);
});
