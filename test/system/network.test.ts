import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { TestDaemon, makeSshKey, sleep, ssh, sshUntil, systemSkipReason } from './harness.js';
import { runArgv } from '../../src/host/exec.js';

const skip = systemSkipReason();

interface Nic { name: string; network: string; address: string; mac: string; tap: string; ipv6?: string; counters?: { rxBytes: number; txBytes: number } }
interface Inst { name: string; state: string; addresses: string[]; nics: Nic[]; pid?: number | null }

/** True when a TCP connection to host:port opens within the timeout. */
function canConnect(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const ip = (cidr: string) => cidr.split('/')[0]!;

describe('networks and the firewall with real guests (TCG)', { skip }, () => {
  let d: TestDaemon;
  let key: { dir: string; key: string; pub: string };
  const info = (n: string) => d.cliJson<Inst>('info', n);
  const run = async (...args: string[]) => {
    const r = await d.cli(...args);
    assert.equal(r.code, 0, `nimbo ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    d = await TestDaemon.start();
    key = await makeSshKey();
    await run('image', 'build', 'tiny', '--quiet');
  });
  after(async () => {
    await d?.cleanup();
    if (key) rmSync(key.dir, { recursive: true, force: true });
  });

  test('bad input: overlapping or tiny subnets, unknown networks, bad rules', async () => {
    const def = (await d.api('GET', '/networks/default')).body;
    assert.equal((await d.api('POST', '/networks', { name: 'clash', subnet: def.subnet })).status, 409);
    const small = await d.api('POST', '/networks', { name: 'small', subnet: '10.66.0.0/30' });
    assert.equal(small.status, 400);
    assert.match(small.body.error.message, /too small/);
    assert.equal((await d.api('POST', '/networks', { name: 'x', ipv6: 'fd00::/48' })).status, 400);
    assert.equal((await d.api('POST', '/security-groups/default/rules', { rules: [{ direction: 'ingress', protocol: 'tcp', source: '10.0.0.300/8' }] })).status, 400);
    assert.equal((await d.api('POST', '/security-groups/default/rules', { rules: [{ direction: 'ingress', protocol: 'tcp', ports: '70000' }] })).status, 400);
    assert.equal((await d.api('POST', '/security-groups/default/rules', { rules: [{ direction: 'ingress', protocol: 'icmp', ports: '22' }] })).status, 400);
    const r = await d.cli('network', 'create', 'Bad_Name');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /network name/);
    assert.equal((await d.api('GET', '/networks')).body.networks.length, 1, 'nothing was created');
  });

  test('two instances on one network reach each other by name; IPv6 and leases', async () => {
    await run('network', 'create', 'blue', '--quiet');
    for (const n of ['a', 'b']) await run('launch', 'tiny', n, '--network', 'blue', '--ssh-key', `${key.key}.pub`, '--memory', '192MiB', '--quiet');
    const [a, b] = [await info('a'), await info('b')];
    assert.equal(a.nics[0]!.network, 'blue');
    await d.waitConsole('a', /NIMBO-READY a/);
    await d.waitConsole('b', /NIMBO-READY b/);
    const out = await sshUntil(key.key, a.addresses[0]!, 60_000, 'ping -c 1 -W 3 b.blue');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.ok(out.stdout.includes(b.addresses[0]!), out.stdout);
    const leases = await d.cliJson<{ ip: string; instance: string }[]>('network', 'leases', 'blue');
    assert.deepEqual(leases.map((l) => l.instance).sort(), ['a', 'b']);
    assert.ok(b.nics[0]!.ipv6, 'an IPv6 address is allocated');
    const v6 = await sshUntil(key.key, a.addresses[0]!, 30_000, `ping -6 -c 1 -W 3 ${b.nics[0]!.ipv6}`);
    assert.equal(v6.code, 0, v6.stdout + v6.stderr);
    const again = await info('a');
    assert.ok((again.nics[0]!.counters?.rxBytes ?? 0) > 0 && (again.nics[0]!.counters?.txBytes ?? 0) > 0, 'traffic counters move');
  });

  test('a security group blocks a port and a rule change opens it live', async () => {
    const b = await info('b');
    const addr = b.addresses[0]!;
    // A listener in the guest (busybox nc answering every connection).
    await ssh(key.key, addr, '(nc -ll -p 8080 -e /bin/cat </dev/null >/dev/null 2>&1 &)');
    await sleep(500);
    assert.equal(await canConnect(addr, 8080), false, 'default group: port 8080 closed');
    await run('firewall', 'group', 'create', 'web');
    await run('firewall', 'group', 'rule', 'add', 'web', '--protocol', 'tcp', '--port', '8080', '--id', 'http');
    await run('firewall', 'group', 'attach', 'web', 'b');
    assert.equal(await canConnect(addr, 8080), true, 'the rule opened 8080 at once');
    await run('firewall', 'group', 'rule', 'delete', 'web', 'http');
    assert.equal(await canConnect(addr, 8080), false, 'closed again');
    const g = await d.cliJson<{ attachedTo: string[] }>('firewall', 'group', 'info', 'web');
    assert.deepEqual(g.attachedTo, ['b/eth0']);
    assert.equal((await d.api('DELETE', '/security-groups/web')).status, 409, 'attached groups cannot be deleted');
  });

  test('a guest that changes its IP or MAC can no longer send', async () => {
    const [a, b] = [await info('a'), await info('b')];
    const mine = a.nics[0]!;
    const other = ip(mine.address).replace(/\.\d+$/, '.250');
    // Run detached in the guest: the changes cut the SSH session; results go to a file read afterwards.
    const script = [
      `ping -c 2 -W 2 ${b.addresses[0]} >/dev/null && echo own=ok || echo own=fail`,
      `ip addr add ${other}/24 dev eth0; ping -c 2 -W 2 -I ${other} ${b.addresses[0]} >/dev/null && echo ip=ok || echo ip=fail; ip addr del ${other}/24 dev eth0`,
      `ip link set eth0 address 52:54:00:de:ad:01; ip neigh flush dev eth0; ping -c 2 -W 2 ${b.addresses[0]} >/dev/null && echo mac=ok || echo mac=fail`,
      `ip link set eth0 address ${mine.mac}; ip neigh flush dev eth0; ping -c 2 -W 2 ${b.addresses[0]} >/dev/null && echo back=ok || echo back=fail`,
    ].join('; ');
    await ssh(key.key, a.addresses[0]!, `(sh -c '${script}' </dev/null >/tmp/spoof.log 2>&1 &)`);
    let log = '';
    for (let i = 0; i < 40 && !/back=/.test(log); i++) {
      await sleep(1000);
      log = (await ssh(key.key, a.addresses[0]!, 'cat /tmp/spoof.log')).stdout;
    }
    assert.match(log, /own=ok/);
    assert.match(log, /ip=fail/, log);
    assert.match(log, /mac=fail/, log);
    assert.match(log, /back=ok/, log);
  });

  test('an isolated network has no way out; NIC hot-plug and removal', async () => {
    await run('network', 'create', 'iso', '--mode', 'isolated', '--ipv6', 'none', '--quiet');
    const a = await info('a');
    await run('network', 'attach', 'a', 'iso', '--quiet');
    const withNic = await info('a');
    const eth1 = withNic.nics.find((n) => n.network === 'iso')!;
    assert.equal(eth1.name, 'eth1');
    // QEMU opened the hot-plugged tap after dropping privileges: it is owned by this VM's uid only.
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${withNic.pid}/status`, 'utf8'))![1];
    assert.equal(readFileSync(`/sys/class/net/${eth1.tap}/owner`, 'utf8').trim(), uid);
    const seen = await sshUntil(key.key, a.addresses[0]!, 30_000, `cat /sys/class/net/eth1/address`);
    assert.equal(seen.stdout.trim(), eth1.mac);
    // On the isolated network only: a guest there reaches its gateway but nothing beyond it.
    await run('launch', 'tiny', 'c', '--network', 'iso', '--ssh-key', `${key.key}.pub`, '--memory', '192MiB', '--quiet');
    const c = await info('c');
    await d.waitConsole('c', /NIMBO-READY c/);
    const isoNet = (await d.api('GET', '/networks/iso')).body;
    const defNet = (await d.api('GET', '/networks/default')).body;
    const blue = (await d.api('GET', '/networks/blue')).body;
    const out = await sshUntil(key.key, c.addresses[0]!, 60_000, `ping -c 1 -W 2 ${isoNet.gateway}`);
    assert.equal(out.code, 0, out.stderr);
    for (const target of [defNet.gateway, blue.gateway, a.addresses[0]!, '192.0.2.1']) {
      const r = await ssh(key.key, c.addresses[0]!, `ping -c 1 -W 2 ${target}`);
      assert.notEqual(r.code, 0, `isolated guest reached ${target}`);
    }
    await run('network', 'detach', 'a', 'iso', '--quiet');
    const gone = await ssh(key.key, a.addresses[0]!, 'test -e /sys/class/net/eth1 && echo present || echo gone');
    assert.equal(gone.stdout.trim(), 'gone');
    assert.equal((await info('a')).nics.length, 1);
  });

  test('a port forward on loopback and a floating IP reach the guest SSH; bandwidth limits go on the tap', async () => {
    const b = await info('b');
    const port = 20000 + Math.floor(Math.random() * 20000);
    await run('network', 'forward', 'add', 'blue', `127.0.0.1:${port}`, 'b:22');
    const r = await runArgv(
      ['ssh', '-p', String(port), '-i', key.key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', 'hostname'],
      { allowFailure: true, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'b');
    const clash = await d.api('POST', '/networks/blue/forwards', { listenAddress: '127.0.0.1', listenPort: Number(new URL(d.url).port), instance: 'b', targetPort: 22 });
    assert.equal(clash.status, 409, 'a forward onto a port in use on the host is refused');
    const list = await d.cliJson<{ id: string }[]>('network', 'forward', 'list', 'blue');
    await run('network', 'forward', 'delete', 'blue', list[0]!.id);
    assert.equal(await canConnect('127.0.0.1', port, 2000), false);
    // A floating IP: an extra host address (on a veth of this run; no dummy driver here) mapped 1:1 to b.
    const dummy = `${d.prefix}fl`;
    const floating = `192.0.2.${10 + Math.floor(Math.random() * 200)}`;
    await runArgv(['ip', 'link', 'add', dummy, 'type', 'veth', 'peer', 'name', `${d.prefix}fp`]);
    await runArgv(['ip', 'addr', 'add', `${floating}/32`, 'dev', dummy]);
    await runArgv(['ip', 'link', 'set', dummy, 'up']);
    try {
      await run('network', 'forward', 'add', 'blue', floating, 'b');
      const viaFloating = await ssh(key.key, floating, 'hostname');
      assert.equal(viaFloating.stdout.trim(), 'b', viaFloating.stderr);
      const fl = await d.cliJson<{ id: string; kind: string }[]>('network', 'forward', 'list', 'blue');
      assert.deepEqual(fl.map((f) => f.kind), ['floating']);
      await run('network', 'forward', 'delete', 'blue', fl[0]!.id);
    } finally {
      await runArgv(['ip', 'link', 'del', dummy], { allowFailure: true });
    }
    await run('network', 'limit', 'b', 'eth0', '--ingress', '50mbit', '--egress', '20mbit');
    const qd = (await runArgv(['tc', 'qdisc', 'show', 'dev', b.nics[0]!.tap])).stdout;
    assert.match(qd, /tbf/);
  });

  test('a daemon restart rebuilds the ruleset exactly once', async () => {
    const tables = async () => (await runArgv(['nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.endsWith(` ${d.prefix}`));
    const before = (await runArgv(['nft', 'list', 'table', 'inet', d.prefix])).stdout;
    await d.stop('SIGTERM');
    await d.launch();
    const afterText = (await runArgv(['nft', 'list', 'table', 'inet', d.prefix])).stdout;
    assert.equal(afterText, before);
    assert.deepEqual(await tables(), [`table inet ${d.prefix}`, `table bridge ${d.prefix}`]);
    assert.equal((await info('a')).state, 'running');
  });
});
