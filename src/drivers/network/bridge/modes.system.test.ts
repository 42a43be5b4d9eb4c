import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { NetnsExec } from '../../../host/netns-exec.js';
import { BridgeNetworkDriver } from './bridge-driver.js';
import { NamespacedNetFs } from '../host-fs.js';
import type { NetworkSpec } from '../types.js';

// The three network modes, isolation between networks and port forwards, with real packets:
//
//   namespace O (outside, 10.X.0.2) ── veth ── namespace H (the host, 10.X.0.1; runs the driver)
//                                                bridge A: nat      10.X.1.0/24 ── guest GA (.10)
//                                                bridge B: routed   10.X.2.0/24 ── guest GB (.10)
//                                                bridge C: isolated 10.X.3.0/24 ── guest GC (.10)
//
// Nothing runs in the real host's network namespace; every name carries a per-run prefix and
// everything is removed in `finally`.

const exec = new RealExec();
const tools = ['/usr/sbin/ip', '/usr/sbin/nft', '/usr/sbin/dnsmasq', '/bin/busybox'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (creates namespaces, bridges, nft tables and runs dnsmasq)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qm${randomBytes(2).toString('hex')}`;
const H = `${tag}H`;
const O = `${tag}O`;
const run = (argv: string[], timeoutMs = 30_000) => exec.run(argv, { allowFailure: true, timeoutMs });
const inNs = (n: string, argv: string[], timeoutMs?: number) => run(['ip', 'netns', 'exec', n, ...argv], timeoutMs);
const must = async (n: string, argv: string[]) => {
  const r = await inNs(n, argv);
  assert.equal(r.code, 0, `${n}: ${argv.join(' ')}: ${r.stderr}`);
  return r;
};
const ping = async (from: string, to: string) => (await inNs(from, ['/bin/busybox', 'ping', '-c', '1', '-W', '1', to])).code === 0;
/** GET / from http://HOST:PORT with busybox nc (busybox wget crashes on some builds); the body's last line, or null. */
const wget = async (from: string, url: string) => {
  const m = /^http:\/\/([^/:]+)(?::(\d+))?\/$/.exec(url)!;
  const r = await exec.run(['ip', 'netns', 'exec', from, '/bin/busybox', 'nc', '-w', '2', m[1]!, m[2] ?? '80'], {
    allowFailure: true,
    timeoutMs: 10_000,
    input: 'GET / HTTP/1.0\r\n\r\n',
  });
  const last = r.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  return /^HTTP\/1\.[01] 200/.test(r.stdout) ? last : null;
};

async function killNamespacePids(n: string): Promise<void> {
  const pids = (await run(['ip', 'netns', 'pids', n])).stdout.split('\n').filter((p) => /^\d+$/.test(p));
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function dnsmasqPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0')[0]?.endsWith('dnsmasq') && cmd.includes(`--conf-file=${dir}/`)) pids.push(Number(e));
  }
  return pids;
}

test('modes: nat masquerades, routed is reachable, isolated goes nowhere, networks are isolated, forwards DNAT', { skip, timeout: 180_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), `${tag}-`));
  await chmod(tmp, 0o755);
  const guests: string[] = [];
  try {
    const x = `10.${randomInt(16, 250)}`;
    await exec.run(['ip', 'netns', 'add', H]);
    await exec.run(['ip', 'netns', 'add', O]);
    await exec.run(['ip', 'link', 'add', `${tag}h`, 'netns', H, 'type', 'veth', 'peer', 'name', `${tag}o`, 'netns', O]);
    for (const [n, dev, addr] of [[H, `${tag}h`, `${x}.0.1`], [O, `${tag}o`, `${x}.0.2`]] as const) {
      await must(n, ['ip', 'addr', 'add', `${addr}/24`, 'dev', dev]);
      await must(n, ['ip', 'link', 'set', 'dev', dev, 'up']);
      await must(n, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
    }
    const e = new NetnsExec(H, exec);
    const driver = new BridgeNetworkDriver({ exec: e, fs: new NamespacedNetFs(e) });
    const net = (l: 'a' | 'b' | 'c', i: number, mode: NetworkSpec['mode']): NetworkSpec => ({
      name: `net${l}`,
      bridge: `${tag}b${l}`,
      subnet: `${x}.${i}.0/24`,
      gateway: `${x}.${i}.1`,
      mode,
      domain: `${l}.test`,
      stateDir: join(tmp, l),
      nftTable: tag,
    });
    const nets = [net('a', 1, 'nat'), net('b', 2, 'routed'), net('c', 3, 'isolated')];
    for (const s of nets) await driver.ensure(s, []);
    await driver.applyFirewall(nets); // what a restarting daemon does; must not change anything

    // One guest per network, static address, default route via its gateway, a web server on port 80.
    for (const [i, l] of (['a', 'b', 'c'] as const).entries()) {
      const g = `${tag}G${l}`;
      guests.push(g);
      await exec.run(['ip', 'netns', 'add', g]);
      await exec.run(['ip', 'link', 'add', `${tag}p${l}`, 'netns', H, 'type', 'veth', 'peer', 'name', `${tag}g${l}`, 'netns', g]);
      await must(H, ['ip', 'link', 'set', 'dev', `${tag}p${l}`, 'master', `${tag}b${l}`, 'up']);
      await must(g, ['ip', 'addr', 'add', `${x}.${i + 1}.10/24`, 'dev', `${tag}g${l}`]);
      await must(g, ['ip', 'link', 'set', 'dev', `${tag}g${l}`, 'up']);
      await must(g, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
      await must(g, ['ip', 'route', 'add', 'default', 'via', `${x}.${i + 1}.1`]);
      const www = join(tmp, `www-${l}`);
      await mkdir(www);
      await writeFile(join(www, 'index.html'), `hello-${l}\n`);
      await chmod(www, 0o755);
      await must(g, ['/bin/busybox', 'httpd', '-p', '80', '-h', www]);
    }
    const [ga, gb, gc] = guests as [string, string, string];
    const ip = (i: number) => `${x}.${i}.10`;

    // nat: out works without a route back (so the source was masqueraded); in does not.
    assert.equal(await ping(ga, `${x}.0.2`), true, 'nat guest reaches the outside');
    await must(O, ['ip', 'route', 'add', `${x}.1.0/24`, 'via', `${x}.0.1`]);
    await must(O, ['ip', 'route', 'add', `${x}.2.0/24`, 'via', `${x}.0.1`]);
    await must(O, ['ip', 'route', 'add', `${x}.3.0/24`, 'via', `${x}.0.1`]);
    assert.equal(await ping(O, ip(1)), false, 'nothing enters a nat network');
    assert.equal(await wget(O, `http://${ip(1)}/`), null);
    // routed: both ways, no NAT.
    assert.equal(await ping(gb, `${x}.0.2`), true, 'routed guest reaches the outside');
    assert.equal(await wget(O, `http://${ip(2)}/`), 'hello-b', 'routed guest is reachable from outside');
    // isolated: neither way.
    assert.equal(await ping(gc, `${x}.0.2`), false, 'isolated guest goes nowhere');
    assert.equal(await ping(O, ip(3)), false, 'nothing enters an isolated network');
    // Between networks: nothing, whatever the modes.
    assert.equal(await ping(ga, ip(2)), false, 'nat -> routed network');
    assert.equal(await ping(gb, ip(1)), false, 'routed -> nat network');
    assert.equal(await wget(gb, `http://${ip(1)}/`), null);
    assert.equal(await ping(ga, ip(3)), false, 'nat -> isolated network');
    assert.equal(await ping(ga, `${x}.1.1`), true, 'own gateway answers ICMP echo');

    // Port forwards: from outside into a nat network, from the host itself on 127.0.0.1, never into an isolated one.
    await driver.setPolicy(tag, {
      groups: [],
      ports: [],
      forwards: [
        { protocol: 'tcp', hostAddress: `${x}.0.1`, hostPort: 8080, targetAddress: ip(1), targetPort: 80 },
        { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8081, targetAddress: ip(1), targetPort: 80 },
        { protocol: 'tcp', hostAddress: `${x}.0.1`, hostPort: 8082, targetAddress: ip(3), targetPort: 80 },
      ],
      floating: [],
    });
    assert.equal(await wget(O, `http://${x}.0.1:8080/`), 'hello-a', 'forward into the nat network');
    assert.equal((await must(H, ['cat', `/proc/sys/net/ipv4/conf/${tag}ba/route_localnet`])).stdout.trim(), '1');
    assert.equal(await wget(H, 'http://127.0.0.1:8081/'), 'hello-a', 'loopback forward from the host');
    assert.equal(await wget(O, `http://${x}.0.1:8082/`), null, 'no forward into an isolated network');
    // A loopback forward is for the host's own connections only. A guest of another network (and a machine
    // outside) that routes 127.0.0.1 through its gateway, and accepts 127/8 sources back, must not reach it.
    for (const [n, dev, gw] of [[gb, `${tag}gb`, `${x}.2.1`], [O, `${tag}o`, `${x}.0.1`]] as const) {
      await must(n, ['ip', 'addr', 'del', '127.0.0.1/8', 'dev', 'lo']);
      await must(n, ['ip', 'route', 'add', '127.0.0.1/32', 'via', gw]);
      await must(n, ['sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', `net.ipv4.conf.${dev}.route_localnet=1`]);
    }
    assert.deepEqual([await wget(gb, 'http://127.0.0.1:8081/'), await wget(O, 'http://127.0.0.1:8081/')], [null, null], 'neither a guest of another network nor a machine outside can use a loopback forward');
    assert.equal(await ping(gb, '127.0.0.1'), false, "a guest does not reach the host's loopback at all");
    // A published forward is public: a guest of another network may use it (DNATed, then masqueraded).
    // (A guest reaching itself through its own forward would need hairpin mode on its bridge port:
    // br_netfilter bridges the DNATed frame back toward the port it came from. Not supported.)
    assert.equal(await wget(gb, `http://${x}.0.1:8080/`), 'hello-a', 'a guest of another network uses the forward');

    // One table pair, no duplicates after re-applying.
    const count = async () => (JSON.parse((await must(H, ['nft', '-j', 'list', 'ruleset'])).stdout).nftables as object[]).filter((o) => 'rule' in o).length;
    const before = await count();
    await driver.applyFirewall(nets);
    await driver.setPolicy(tag, { groups: [], ports: [], forwards: [], floating: [] });
    await driver.setPolicy(tag, { groups: [], ports: [], forwards: [{ protocol: 'tcp', hostAddress: `${x}.0.1`, hostPort: 8080, targetAddress: ip(1), targetPort: 80 }, { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8081, targetAddress: ip(1), targetPort: 80 }, { protocol: 'tcp', hostAddress: `${x}.0.1`, hostPort: 8082, targetAddress: ip(3), targetPort: 80 }], floating: [] });
    assert.equal(await count(), before, 'same number of rules after re-applying');
    assert.equal((await must(H, ['nft', 'list', 'tables'])).stdout.trim().split('\n').length, 2);

    for (const s of nets) await driver.remove(s);
    assert.equal((await must(H, ['nft', 'list', 'tables'])).stdout.includes(tag), true, 'the forwards still need the tables');
    await driver.removeFirewall(tag);
    assert.equal((await must(H, ['nft', 'list', 'tables'])).stdout.trim(), '');
    assert.deepEqual(await dnsmasqPids(tmp), []);
  } finally {
    for (const n of [...guests, H, O]) await killNamespacePids(n);
    for (const n of [...guests, H, O]) await run(['ip', 'netns', 'del', n]);
    for (const pid of await dnsmasqPids(tmp)) process.kill(pid, 'SIGTERM');
    await rm(tmp, { recursive: true, force: true });
  }
  assert.ok(!(await exec.run(['ip', 'netns', 'list'])).stdout.includes(tag), 'no namespace left');
});
