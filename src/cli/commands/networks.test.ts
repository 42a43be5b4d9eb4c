import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardBody, networkCreateBody, parseListen, parseTarget } from './networks.js';
import { ruleBody } from './firewall.js';
import { launchBody } from './instances.js';

test('network create: bridge by default, vxlan from --vni/--local/--peer', () => {
  assert.deepEqual(networkCreateBody('blue', {}), { name: 'blue' });
  assert.deepEqual(networkCreateBody('lab', { mode: 'routed', subnet: '10.1.0.0/24', ipv6: 'none' }), { name: 'lab', mode: 'routed', subnet: '10.1.0.0/24', ipv6: 'none' });
  assert.deepEqual(networkCreateBody('t', { vni: 42, local: '192.168.1.1', peer: ['192.168.1.2'] }), {
    name: 't',
    type: 'vxlan',
    vxlan: { vni: 42, local: '192.168.1.1', peers: ['192.168.1.2'] },
  });
  assert.throws(() => networkCreateBody('t', { peer: ['192.168.1.2'] }), /needs --vni and --local/);
  assert.throws(() => networkCreateBody('t', { type: 'bridge', vni: 42, local: '192.168.1.1' }), /drop --type bridge/);
});

test('forward add: listen and target forms, floating IPs', () => {
  assert.deepEqual(parseListen('127.0.0.1:2222'), { listenAddress: '127.0.0.1', listenPort: 2222 });
  assert.deepEqual(parseListen('203.0.113.5:8000-8010'), { listenAddress: '203.0.113.5', listenPort: 8000, listenPortEnd: 8010 });
  assert.deepEqual(parseTarget('web/eth1:80'), { instance: 'web', nic: 'eth1', targetPort: 80 });
  assert.throws(() => parseListen('localhost:22'), /not ADDRESS/);
  assert.throws(() => parseTarget('Web:22'), /not INSTANCE/);
  assert.deepEqual(forwardBody('127.0.0.1:2222', 'web:22', { protocol: 'udp' }), { listenAddress: '127.0.0.1', listenPort: 2222, instance: 'web', targetPort: 22, protocol: 'udp' });
  assert.deepEqual(forwardBody('203.0.113.9', 'web', {}), { listenAddress: '203.0.113.9', instance: 'web' });
  assert.throws(() => forwardBody('203.0.113.9', 'web:22', {}), /floating IP/);
});

test('firewall rule add: peers as CIDR or group, not both', () => {
  assert.deepEqual(ruleBody({ direction: 'ingress', protocol: 'tcp', port: '80', id: 'http' }), { direction: 'ingress', protocol: 'tcp', ports: '80', id: 'http' });
  assert.deepEqual(ruleBody({ direction: 'ingress', protocol: 'any', sourceGroup: 'app' }), { direction: 'ingress', protocol: 'any', source: 'group:app' });
  assert.deepEqual(ruleBody({ direction: 'egress', protocol: 'udp', port: '53', destination: '10.0.0.0/8' }), { direction: 'egress', protocol: 'udp', ports: '53', destination: '10.0.0.0/8' });
  assert.throws(() => ruleBody({ direction: 'ingress', protocol: 'tcp', source: '10.0.0.0/8', sourceGroup: 'app' }), /not both/);
});

test('launch --network and --security-group become NIC requests', () => {
  const b = launchBody('tiny', 'web', { start: true, network: ['blue', 'default=10.123.0.50'], securityGroup: ['web'] }, '/nonexistent');
  assert.deepEqual(b.nics, [
    { network: 'blue', securityGroups: ['web'] },
    { network: 'default', address: '10.123.0.50', securityGroups: ['web'] },
  ]);
  assert.equal(launchBody('tiny', 'web', { start: true }, '/nonexistent').nics, undefined);
});

test('launch --app: command, env, user, restart; app flags refused without --app', async () => {
  const { launchBody: lb, newPart, splitTarget } = await import('./instances.js');
  assert.deepEqual(lb('img', 'a', { start: true, app: true, env: ['A=1'], user: 'app', restart: 'on-failure' }, '/nonexistent', ['-c', 'echo hi']), {
    name: 'a',
    image: 'img',
    app: { cmd: ['-c', 'echo hi'], env: ['A=1'], user: 'app', restart: 'on-failure' },
  });
  assert.deepEqual(lb('img', 'a', { start: true, app: true, entrypoint: '' }, '/nonexistent').app, { entrypoint: [] });
  assert.throws(() => lb('tiny', 'a', { start: true, env: ['A=1'] }, '/nonexistent'), /--app/);
  assert.deepEqual(splitTarget('web:/etc/hosts'), { name: 'web', path: '/etc/hosts' });
  assert.throws(() => splitTarget('web:etc/hosts'), /NAME:\/absolute\/path/);
  assert.equal(newPart('abc', 'abcdef'), 'def');
  const body = Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join('');
  assert.equal(newPart(`old start\n${body}`, `${body}new line\n`), 'new line\n', 'the start of the log fell out of the window');
  assert.equal(newPart('same', 'same'), '');
});
