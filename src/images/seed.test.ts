import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderSeed, type SeedSpec } from './seed.js';

const spec: SeedSpec = {
  instanceId: '6f1c1c1e-0000-4000-8000-000000000001',
  hostname: 'web1.example.org',
  sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8 alice@laptop\n', '  ', 'ecdsa-sha2-nistp256 AAAAE2Vj bob'],
  nics: [
    { mac: '52:54:00:AA:BB:01', address: '10.1.2.3/24', gateway: '10.1.2.1', dns: ['10.1.2.1', '9.9.9.9'] },
    { mac: '52:54:00:aa:bb:02', address: 'fd00::5/64', gateway: 'fd00::1', dns: [] },
    { mac: '52:54:00:aa:bb:03', address: '', dns: [] },
  ],
  password: 'p"w:1',
};

test('renderSeed: golden NoCloud seed and nimbo/ files', () => {
  const files = renderSeed(spec);
  assert.deepEqual(Object.keys(files), [
    'meta-data', 'user-data', 'network-config', 'nimbo/instance-id', 'nimbo/hostname',
    'nimbo/authorized_keys', 'nimbo/password', 'nimbo/net-eth0', 'nimbo/net-eth1', 'nimbo/net-eth2',
  ]);
  assert.equal(files['meta-data'], 'instance-id: "6f1c1c1e-0000-4000-8000-000000000001"\nlocal-hostname: "web1"\n');
  assert.equal(files['user-data'], `#cloud-config
hostname: "web1"
fqdn: "web1.example.org"
preserve_hostname: false
manage_etc_hosts: true
disable_root: false
ssh_pwauth: false
ssh_authorized_keys:
  - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8 alice@laptop"
  - "ecdsa-sha2-nistp256 AAAAE2Vj bob"
chpasswd:
  expire: false
  users:
    - name: "root"
      password: "p\\"w:1"
      type: "text"
`);
  assert.equal(files['network-config'], `version: 2
ethernets:
  eth0:
    match:
      macaddress: "52:54:00:aa:bb:01"
    set-name: "eth0"
    addresses:
      - "10.1.2.3/24"
    routes:
      - to: "0.0.0.0/0"
        via: "10.1.2.1"
    nameservers:
      addresses:
        - "10.1.2.1"
        - "9.9.9.9"
  eth1:
    match:
      macaddress: "52:54:00:aa:bb:02"
    set-name: "eth1"
    addresses:
      - "fd00::5/64"
    routes:
      - to: "::/0"
        via: "fd00::1"
  eth2:
    match:
      macaddress: "52:54:00:aa:bb:03"
    set-name: "eth2"
    dhcp4: true
`);
  assert.equal(files['nimbo/instance-id'], '6f1c1c1e-0000-4000-8000-000000000001\n');
  assert.equal(files['nimbo/hostname'], 'web1.example.org\n');
  assert.equal(files['nimbo/authorized_keys'], 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB8 alice@laptop\necdsa-sha2-nistp256 AAAAE2Vj bob\n');
  assert.equal(files['nimbo/password'], 'p"w:1\n');
  assert.equal(files['nimbo/net-eth0'], 'mac=52:54:00:aa:bb:01\nmode=static\naddress=10.1.2.3/24\ngateway=10.1.2.1\ndns=10.1.2.1\ndns=9.9.9.9\n');
  assert.equal(files['nimbo/net-eth1'], 'mac=52:54:00:aa:bb:02\nmode=static\naddress=fd00::5/64\ngateway=fd00::1\n');
  assert.equal(files['nimbo/net-eth2'], 'mac=52:54:00:aa:bb:03\nmode=dhcp\n');
});

test('renderSeed: minimal spec has no password file, empty lists', () => {
  const files = renderSeed({ instanceId: 'i-1', hostname: 'vm', sshKeys: [], nics: [] });
  assert.equal(files['nimbo/password'], undefined);
  assert.equal(files['nimbo/authorized_keys'], '');
  assert.equal(files['network-config'], 'version: 2\nethernets: {}\n');
  assert.match(files['user-data']!, /\nssh_authorized_keys: \[\]\n$/);
});

test('renderSeed: rejects bad input with InvalidArgument', () => {
  const base: SeedSpec = { instanceId: 'i-1', hostname: 'vm', sshKeys: [], nics: [] };
  const bad: Partial<SeedSpec>[] = [
    { hostname: 'bad_name' },
    { hostname: '-x' },
    { hostname: 'a'.repeat(64) },
    { instanceId: '../etc' },
    { instanceId: '' },
    { sshKeys: ['ssh-ed25519 AAAA\nssh-rsa BBBB'] },
    { password: 'a\nb' },
    { password: '' },
    { nics: [{ mac: '52:54:00:00:00', address: '10.0.0.2/24', dns: [] }] },
    { nics: [{ mac: '52:54:00:00:00:01', address: '10.0.0.2', dns: [] }] },
    { nics: [{ mac: '52:54:00:00:00:01', address: '10.0.0.2/33', dns: [] }] },
    { nics: [{ mac: '52:54:00:00:00:01', address: '10.0.0.2/24', gateway: 'x; reboot', dns: [] }] },
    { nics: [{ mac: '52:54:00:00:00:01', address: '10.0.0.2/24', dns: ['1.1.1.1\nnameserver 6.6.6.6'] }] },
    {
      nics: [
        { mac: '52:54:00:00:00:01', address: '', dns: [] },
        { mac: '52:54:00:00:00:01', address: '', dns: [] },
      ],
    },
  ];
  for (const b of bad) {
    assert.throws(() => renderSeed({ ...base, ...b }), { code: 'InvalidArgument' }, JSON.stringify(b));
  }
});
