import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkToken, makeToken, routeMetadata, type MetadataView } from './metadata-router.js';

const v: MetadataView = {
  instanceId: '0b5e5a52-1111-4222-8333-444455556666',
  hostname: 'web',
  image: 'debian-12',
  cpus: 2,
  memory: 1024 * 2 ** 20,
  localIpv4: '10.8.0.5',
  mac: '52:54:00:12:34:56',
  sshKeys: ['ssh-ed25519 AAAAkey1 alice', ' ', 'ssh-rsa AAAAkey2 bob\n'],
  userData: '#!/bin/sh\necho hi\n',
  vendorData: '#cloud-config\n{}\n',
};
let clock = 1_800_000_000_000;
const key = { secret: Buffer.alloc(32, 7), now: () => clock };
const get = (path: string, headers: Record<string, string> = {}, view = v) => routeMetadata({ method: 'GET', path, headers }, view, key);

test('NoCloud-net paths: meta-data, user-data (nimbo + customer, MIME), vendor-data', () => {
  assert.equal(get('/nocloud/meta-data').body, `instance-id: "${v.instanceId}"\nlocal-hostname: "web"\n`);
  const ud = get('/nocloud/user-data').body;
  assert.match(ud, /^Content-Type: multipart\/mixed/);
  assert.ok(ud.includes('  - "ssh-ed25519 AAAAkey1 alice"\n  - "ssh-rsa AAAAkey2 bob"\n'));
  assert.ok(ud.includes('#!/bin/sh\necho hi\n'));
  assert.equal(get('/nocloud/vendor-data').body, '#cloud-config\n{}\n');
  const bare = { ...v, userData: undefined, vendorData: undefined };
  assert.match(get('/nocloud/user-data', {}, bare).body, /^#cloud-config\nhostname: "web"\n/);
  assert.equal(get('/nocloud/vendor-data', {}, bare).body, '');
  assert.equal(get('/nocloud/').body, 'meta-data\nuser-data\nvendor-data\n');
});

test('EC2 paths: index, leaves, public keys, user-data, identity document, dated versions', () => {
  assert.equal(get('/latest/meta-data/').body, 'ami-id\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nplacement/\npublic-keys/\n');
  assert.equal(get('/latest/meta-data').body, get('/latest/meta-data/').body);
  assert.equal(get('/latest/meta-data/instance-id').body, v.instanceId);
  assert.equal(get('/2009-04-04/meta-data/instance-id').body, v.instanceId);
  assert.equal(get('/latest/meta-data/local-ipv4').body, '10.8.0.5');
  assert.equal(get('/latest/meta-data/hostname').body, 'web');
  assert.equal(get('/latest/meta-data/instance-type').body, 'nimbo.2c.1024m');
  assert.equal(get('/latest/meta-data/placement/availability-zone').body, 'nimbo');
  assert.equal(get('/latest/meta-data/public-keys/').body, '0=key-0\n1=key-1\n');
  assert.equal(get('/latest/meta-data/public-keys/1/').body, 'openssh-key\n');
  assert.equal(get('/latest/meta-data/public-keys/0/openssh-key').body, 'ssh-ed25519 AAAAkey1 alice');
  assert.equal(get('/latest/user-data').body, v.userData);
  assert.equal(get('/latest/user-data', {}, { ...v, userData: undefined }).status, 404);
  assert.equal(get('/latest/').body, 'dynamic\nmeta-data\nuser-data\n');
  assert.equal(JSON.parse(get('/latest/dynamic/instance-identity/document').body).instanceId, v.instanceId);
  assert.match(get('/').body, /^2009-04-04\n.*latest\nnocloud\/\n$/s);
});

test('unknown paths are 404, other methods 405; nothing outside the tree is reachable', () => {
  for (const p of ['/latest/meta-data/nope', '/latest/meta-data/public-keys/9/openssh-key', '/latest/meta-data/instance-id/x',
    '/nocloud/network-config', '/nocloud/meta-data/x', '/x', '/latest/meta-data/constructor', '/latest/meta-data/__proto__', '/1999/meta-data/', '/latest/dynamic/x']) {
    assert.equal(get(p).status, 404, p);
  }
  assert.equal(routeMetadata({ method: 'POST', path: '/latest/user-data', headers: {} }, v, key).status, 405);
  assert.equal(routeMetadata({ method: 'PUT', path: '/latest/user-data', headers: {} }, v, key).status, 405);
});

test('IMDSv2: PUT /latest/api/token gives a token for this instance; a bad, foreign or expired token is 401', () => {
  const put = (ttl?: string) => routeMetadata({ method: 'PUT', path: '/latest/api/token', headers: ttl ? { 'x-aws-ec2-metadata-token-ttl-seconds': ttl } : {} }, v, key);
  assert.equal(put().status, 400);
  assert.equal(put('0').status, 400);
  assert.equal(put('21601').status, 400);
  const t = put('60');
  assert.equal(t.status, 200);
  assert.equal(t.headers!['x-aws-ec2-metadata-token-ttl-seconds'], '60');
  assert.equal(get('/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': t.body }).body, v.instanceId);
  assert.equal(get('/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': 'x' }).status, 401);
  // A token made for another instance is refused here.
  const other = makeToken(key, 'other-instance', 60);
  assert.equal(get('/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': other }).status, 401);
  assert.equal(checkToken(key, v.instanceId, t.body), true);
  clock += 61_000;
  assert.equal(get('/latest/meta-data/instance-id', { 'x-aws-ec2-metadata-token': t.body }).status, 401);
});
