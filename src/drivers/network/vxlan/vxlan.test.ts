import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VXLAN_MTU,
  fdbAppendArgv,
  fdbDelArgv,
  fdbPlan,
  fdbShowArgv,
  parseFloodPeers,
  parseVxlanInfo,
  vxlanAddArgv,
  vxlanAttachArgv,
  vxlanDelArgv,
  vxlanMatches,
} from './vxlan.js';

const v = { device: 'nimbovx0', vni: 4242, local: '192.168.77.1', port: 4789, peers: ['192.168.77.2'] };

test('argv rendering', () => {
  assert.deepEqual(vxlanAddArgv(v), ['ip', 'link', 'add', 'nimbovx0', 'type', 'vxlan', 'id', '4242', 'local', '192.168.77.1', 'dstport', '4789', 'nolearning']);
  assert.deepEqual(vxlanAttachArgv(v, 'nimbobr0'), ['ip', 'link', 'set', 'dev', 'nimbovx0', 'mtu', '1450', 'master', 'nimbobr0', 'up']);
  assert.deepEqual(vxlanDelArgv('nimbovx0'), ['ip', 'link', 'del', 'dev', 'nimbovx0']);
  assert.deepEqual(fdbShowArgv('nimbovx0'), ['bridge', '-j', 'fdb', 'show', 'dev', 'nimbovx0']);
  assert.deepEqual(fdbAppendArgv('nimbovx0', '192.168.77.2'), ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'nimbovx0', 'dst', '192.168.77.2']);
  assert.deepEqual(fdbDelArgv('nimbovx0', '192.168.77.2'), ['bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'nimbovx0', 'dst', '192.168.77.2']);
  assert.equal(VXLAN_MTU, 1450);
});

test('parse the device settings (real ip -j -d output) and compare with the spec', () => {
  const info = { id: 4242, local: '192.168.77.1', port_range: { low: 0, high: 0 }, port: 4789, learning: false, ttl: 0 };
  const s = parseVxlanInfo(info)!;
  assert.deepEqual(s, { vni: 4242, local: '192.168.77.1', port: 4789, learning: false });
  assert.equal(vxlanMatches(s, v), true);
  assert.equal(vxlanMatches({ ...s, vni: 1 }, v), false);
  assert.equal(vxlanMatches({ ...s, local: '192.168.77.9' }, v), false);
  assert.equal(vxlanMatches({ ...s, local: null }, v), false);
  assert.equal(vxlanMatches({ ...s, port: 8472 }, v), false);
  assert.equal(vxlanMatches({ ...s, learning: true }, v), false);
  assert.equal(parseVxlanInfo(undefined), null);
  assert.equal(parseVxlanInfo({ forward_delay: 1500 }), null);
});

test('parseFloodPeers keeps only all-zero-MAC entries with a destination', () => {
  const json = JSON.stringify([
    { mac: '1a:35:23:db:75:d3', flags: [], master: 'nimbobr0', state: 'permanent' },
    { mac: '00:00:00:00:00:00', dst: '192.168.77.2', flags: ['self'], state: 'permanent' },
    { mac: '52:54:00:00:00:01', dst: '192.168.77.2', flags: ['self'] },
    { mac: '00:00:00:00:00:00', dst: '192.168.77.3', flags: ['self'], state: 'permanent' },
  ]);
  assert.deepEqual(parseFloodPeers(json), ['192.168.77.2', '192.168.77.3']);
  assert.deepEqual(parseFloodPeers(''), []);
  assert.deepEqual(parseFloodPeers('[]'), []);
});

test('fdbPlan: add missing, delete stale, repair duplicates, nothing on a converged device', () => {
  assert.deepEqual(fdbPlan([], ['10.0.0.2', '10.0.0.3']), { del: [], add: ['10.0.0.2', '10.0.0.3'] });
  assert.deepEqual(fdbPlan(['10.0.0.2', '10.0.0.3'], ['10.0.0.2', '10.0.0.3']), { del: [], add: [] });
  assert.deepEqual(fdbPlan(['10.0.0.2', '10.0.0.9'], ['10.0.0.2', '10.0.0.3']), { del: ['10.0.0.9'], add: ['10.0.0.3'] });
  assert.deepEqual(fdbPlan(['10.0.0.2', '10.0.0.2'], ['10.0.0.2']), { del: ['10.0.0.2'], add: ['10.0.0.2'] });
  assert.deepEqual(fdbPlan(['10.0.0.2'], []), { del: ['10.0.0.2'], add: [] });
});
