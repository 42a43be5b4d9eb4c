import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renderSeed } from '../../../images/seed.js';
import { identityFromSeed, renderReseedScript } from './warm-reseed.js';

const seed = renderSeed({
  instanceId: '0b7c6f8e-4f0e-4a51-9c39-6f1d7a2b5c11',
  hostname: 'w1',
  sshKeys: ["ssh-ed25519 AAAAC3Nza w1's key"],
  nics: [{ mac: '52:54:00:aa:bb:01', address: '10.9.0.5/24', gateway: '10.9.0.1', dns: ['10.9.0.1'] }],
});

test('the identity comes from the seed files, the old MACs from the template', () => {
  const id = identityFromSeed(seed, ['52:54:00:00:00:99'], 1_800_000_000.7, 'NIMBO-READY');
  assert.deepEqual(id, {
    instanceId: '0b7c6f8e-4f0e-4a51-9c39-6f1d7a2b5c11',
    hostname: 'w1',
    sshKeys: ["ssh-ed25519 AAAAC3Nza w1's key"],
    nics: [{ fromMac: '52:54:00:00:00:99', mac: '52:54:00:aa:bb:01', address: '10.9.0.5/24', gateway: '10.9.0.1', dns: ['10.9.0.1'] }],
    now: 1_800_000_000,
    readyMarker: 'NIMBO-READY',
  });
});

test('a NIC count other than the template\'s is refused', () => {
  assert.throws(() => identityFromSeed(seed, ['52:54:00:00:00:99', '52:54:00:00:00:98'], 1), /template has 2 NIC/);
  assert.throws(() => identityFromSeed(seed, [], 1), /template has 0 NIC/);
});

test('the script is valid sh and applies every part of the identity, quoted', () => {
  const script = renderReseedScript(identityFromSeed(seed, ['52:54:00:00:00:99'], 1_800_000_000, 'NIMBO-READY'));
  const check = spawnSync('sh', ['-n'], { input: script });
  assert.equal(check.status, 0, check.stderr.toString());
  assert.match(script, /^date -s @1800000000 /m);
  assert.match(script, /^\{ echo 'w1' > \/proc\/sys\/kernel\/hostname; \} 2>\/dev\/null \|\| hostname 'w1'$/m);
  // The key's quote is closed and escaped: the key stays one word.
  assert.ok(script.includes(`printf '%s\\n' 'ssh-ed25519 AAAAC3Nza w1'\\''s key' > /root/.ssh/authorized_keys.new`), script);
  assert.match(script, /^find_iface '52:54:00:00:00:99' \|\| find_iface '52:54:00:aa:bb:01'$/m);
  assert.match(script, /ip link set dev "\$ifc" address '52:54:00:aa:bb:01' up/);
  assert.match(script, /ip addr add '10\.9\.0\.5\/24' dev "\$ifc"/);
  assert.match(script, /ip route replace default via '10\.9\.0\.1' dev "\$ifc"/);
  // New host keys: the old ones go, dropbear -R makes one at the first connection; the old server is stopped
  // before the network changes, so it is gone by the time the new one starts.
  assert.match(script, /rm -f \/etc\/dropbear\/dropbear_\*_host_key/);
  assert.doesNotMatch(script, /dropbearkey/);
  assert.ok(script.indexOf('kill "$dpid"') < script.indexOf('ip link set'), 'the old dropbear is stopped first');
  assert.ok(script.indexOf('wait_gone "$dpid"') < script.indexOf('dropbear -R'));
  assert.match(script, /dropbear -R -s -p 22 -P \/run\/dropbear.pid <\/dev\/null >\/dev\/null 2>&1/, 'no pipe of the agent stays open');
  assert.match(script, /echo 'NIMBO-READY' 'w1' > \/dev\/ttyS0/);
  assert.match(script, /ns="\$ns 10\.9\.0\.1"/);
  assert.match(script, /printf 'nameserver %s\\n' \$ns > \/etc\/resolv.conf/);
});

test('the script starts few programs: no command substitution, no cat, the hostname through /proc', () => {
  const script = renderReseedScript(identityFromSeed(seed, ['52:54:00:00:00:99'], 1_800_000_000, 'NIMBO-READY'));
  // Each program costs tens of ms in a TCG guest and the warm launch waits for the script.
  assert.doesNotMatch(script, /\$\([^(]/, "no subshells (arithmetic is a builtin)");
  assert.doesNotMatch(script, /\bcat\b/);
  assert.doesNotMatch(script, /chmod 600/, 'umask 077 makes the new authorized_keys 0600');
  assert.match(script, /^umask 077$/m);
});

test('find_iface finds a NIC by MAC with builtins (run against a copy of /sys/class/net)', () => {
  const script = renderReseedScript(identityFromSeed(seed, ['52:54:00:00:00:99'], 5));
  const fn = script.slice(script.indexOf('find_iface() {'), script.indexOf('}\n', script.indexOf('return 1')) + 2).replaceAll('/sys/class/net', '"$SYS"');
  const sh = `${fn}\nmkdir -p "$SYS/lo" "$SYS/eth7"; echo 00:00:00:00:00:00 > "$SYS/lo/address"; echo 52:54:00:00:00:99 > "$SYS/eth7/address"\n` +
    `find_iface 52:54:00:00:00:99 && echo "found $ifc"; find_iface 52:54:00:00:00:11 || echo "none [$ifc]"`;
  const r = spawnSync('sh', ['-c', sh], { env: { SYS: `/tmp/reseed-sys-${process.pid}`, PATH: process.env.PATH } });
  spawnSync('rm', ['-rf', `/tmp/reseed-sys-${process.pid}`]);
  assert.equal(r.stdout.toString(), 'found eth7\nnone []\n', r.stderr.toString());
});

test('a DHCP NIC gets a DHCP client instead of an address', () => {
  const dhcp = renderSeed({ instanceId: 'i', hostname: 'h', sshKeys: [], nics: [{ mac: '52:54:00:aa:bb:02', address: '', dns: [] }] });
  const script = renderReseedScript(identityFromSeed(dhcp, ['52:54:00:00:00:99'], 5));
  assert.doesNotMatch(script, /ip addr add/);
  assert.match(script, /udhcpc -i "\$ifc"/);
  assert.match(script, /^: > \/root\/.ssh\/authorized_keys.new$/m, 'no keys: an empty file');
});

test('values that cannot be applied safely are refused', () => {
  const id = identityFromSeed(seed, ['52:54:00:00:00:99'], 5);
  assert.throws(() => renderReseedScript({ ...id, hostname: 'a b' }), /invalid hostname/);
  assert.throws(() => renderReseedScript({ ...id, sshKeys: ['a\nb'] }), /one line/);
  assert.throws(() => renderReseedScript({ ...id, nics: [{ ...id.nics[0]!, mac: "x'; reboot" }] }), /invalid MAC/);
  assert.throws(() => renderReseedScript({ ...id, now: 0 }), /clock/);
  assert.throws(() => renderReseedScript({ ...id, nics: [{ ...id.nics[0]!, dns: ['1.1.1.1; reboot'] }] }), /invalid DNS server/);
});
