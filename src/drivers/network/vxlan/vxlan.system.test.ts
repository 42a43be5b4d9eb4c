import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealExec } from '../../../host/exec.js';
import { NetnsExec } from '../../../host/netns-exec.js';
import { eui64Address, hostIn6, ulaSubnet } from '../../../lib/ip6.js';
import { BridgeNetworkDriver } from '../bridge/bridge-driver.js';
import { showLink } from '../bridge/ip-link.js';
import { NamespacedNetFs } from '../host-fs.js';
import type { NetworkSpec, Reservation } from '../types.js';
import { parseFloodPeers } from './vxlan.js';

// Two hosts joined by an overlay network, simulated on one machine:
//
//   namespace H1 ── veth underlay (10.A.B.1/24 <-> .2/24) ── namespace H2
//     bridge BR + vxlan VX (same VNI)                          bridge BR + vxlan VX
//     gateway S.1, S6::1, dnsmasq                              gateway S.2, S6::2, dnsmasq
//       └─ veth ── namespace G1 (guest vm1)                      └─ veth ── namespace G2 (guest vm2)
//
// One BridgeNetworkDriver runs "on" each host: every command it runs (ip, bridge, nft, dnsmasq) goes
// through `ip netns exec H`, and its /proc/sys/net writes too (NamespacedNetFs), so nothing of this test
// touches the real host's network. The two-host layout is the one the product uses: one subnet and
// VNI, one L2 segment; each host has its own gateway address in the subnet (here .1 and .2, likewise
// ::1 and ::2) and is DHCP server, DNS server and router (NAT here) for the guests on that host only;
// DHCP and RAs never cross the VXLAN port (the ruleset's bridge part), so a guest always hears its own
// host. Both hosts carry every reservation of the network (DNS knows all guests).
// Every name carries a per-run prefix, and everything is removed in `finally`.

const exec = new RealExec();
const tools = ['/usr/sbin/ip', '/usr/sbin/bridge', '/usr/sbin/nft', '/usr/sbin/dnsmasq', '/bin/busybox'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (creates namespaces, bridges, vxlan devices, nft tables and runs dnsmasq)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qx${randomBytes(2).toString('hex')}`;
const ns = { h1: `${tag}H1`, h2: `${tag}H2`, g1: `${tag}G1`, g2: `${tag}G2` };
const bridge = `${tag}br`;
const vxdev = `${tag}vx`;
const run = (argv: string[], timeoutMs = 30_000) => exec.run(argv, { allowFailure: true, timeoutMs });
const inNs = (n: string, argv: string[], timeoutMs?: number) => run(['ip', 'netns', 'exec', n, ...argv], timeoutMs);
const must = async (n: string, argv: string[]) => {
  const r = await inNs(n, argv);
  assert.equal(r.code, 0, `${n}: ${argv.join(' ')}: ${r.stderr}`);
  return r;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pids of dnsmasq processes started with a config under `dir`. */
async function dnsmasqPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0')[0]?.endsWith('dnsmasq') && cmd.includes(`--conf-file=${dir}/`)) pids.push(Number(e));
  }
  return pids;
}

/** A guest namespace plugged into `host`'s bridge with a veth pair (the test's stand-in for a tap). */
async function addGuest(host: string, guest: string, n: number, mac: string): Promise<string> {
  const dev = `${tag}g${n}`;
  const port = `${tag}p${n}`;
  await exec.run(['ip', 'netns', 'add', guest]);
  await exec.run(['ip', 'link', 'add', port, 'netns', host, 'type', 'veth', 'peer', 'name', dev, 'netns', guest]);
  await must(host, ['ip', 'link', 'set', 'dev', port, 'master', bridge, 'up']);
  await must(guest, ['ip', 'link', 'set', 'dev', dev, 'address', mac]);
  // A guest is not a router and takes RAs whatever the namespace defaults are.
  await must(guest, ['/bin/busybox', 'sysctl', '-w', `net.ipv6.conf.${dev}.forwarding=0`]);
  await must(guest, ['/bin/busybox', 'sysctl', '-w', `net.ipv6.conf.${dev}.accept_ra=2`]);
  await must(guest, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
  await must(guest, ['ip', 'link', 'set', 'dev', dev, 'up']);
  return dev;
}

/** Run busybox udhcpc in a guest; the script records "ip router dns mtu" of the lease (nothing is configured). */
async function dhcp(guest: string, dev: string, script: string, out: string) {
  await rm(out, { force: true });
  const res = await inNs(guest, ['/bin/busybox', 'udhcpc', '-i', dev, '-n', '-q', '-f', '-t', '5', '-T', '2', '-O', 'mtu', '-s', script], 60_000);
  const [ip, router, dns, mtu] = existsSync(out) ? (await readFile(out, 'utf8')).trim().split(' ') : [];
  return { ...res, ip: ip ?? null, router, dns, mtu };
}

/** Poll until `fn` returns a truthy value (or give up after `ms`). */
async function until<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(250);
  }
}

const globalV6 = async (guest: string, dev: string) => {
  const r = await inNs(guest, ['ip', '-j', '-6', 'addr', 'show', 'dev', dev, 'scope', 'global']);
  const j = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string; tentative?: boolean }> }>;
  return (j[0]?.addr_info ?? []).filter((a) => !a.tentative).map((a) => a.local);
};
const defaultRoutes6 = async (guest: string) => JSON.parse((await inNs(guest, ['ip', '-j', '-6', 'route', 'show', 'default'])).stdout || '[]') as Array<{ gateway?: string }>;
const floodPeers = async (host: string) => parseFloodPeers((await must(host, ['bridge', '-j', 'fdb', 'show', 'dev', vxdev])).stdout);

async function cleanup(tmp: string): Promise<void> {
  for (const n of Object.values(ns)) await run(['ip', 'netns', 'del', n]);
  for (const pid of await dnsmasqPids(tmp)) process.kill(pid, 'SIGTERM');
  const links = JSON.parse((await run(['ip', '-j', 'link'])).stdout || '[]') as Array<{ ifname: string }>;
  for (const l of links) if (l.ifname.startsWith(tag)) await run(['ip', 'link', 'del', 'dev', l.ifname]);
  await rm(tmp, { recursive: true, force: true });
}

test('VXLAN overlay between two hosts: L2 across hosts, per-host DHCP/RA, fdb converges, full cleanup', { skip, timeout: 180_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), `${tag}-`));
  await chmod(tmp, 0o755); // dnsmasq drops to "nobody" and reads its hosts files as that user
  try {
    const a = randomInt(16, 250);
    const under = `10.${a}.${randomInt(0, 128)}`; // underlay, only inside H1/H2
    const over = `10.${a}.${randomInt(128, 256)}`; // overlay subnet, only inside H1/H2/G1/G2
    const u1 = `${under}.1`;
    const u2 = `${under}.2`;
    const v6 = ulaSubnet(tag);
    for (const n of Object.values(ns)) assert.equal((await run(['ip', 'netns', 'list'])).stdout.includes(n), false);
    await exec.run(['ip', 'netns', 'add', ns.h1]);
    await exec.run(['ip', 'netns', 'add', ns.h2]);
    await exec.run(['ip', 'link', 'add', `${tag}u1`, 'netns', ns.h1, 'type', 'veth', 'peer', 'name', `${tag}u2`, 'netns', ns.h2]);
    for (const [h, dev, addr] of [[ns.h1, `${tag}u1`, u1], [ns.h2, `${tag}u2`, u2]] as const) {
      await must(h, ['ip', 'addr', 'add', `${addr}/24`, 'dev', dev]);
      await must(h, ['ip', 'link', 'set', 'dev', dev, 'up']);
      await must(h, ['ip', 'link', 'set', 'dev', 'lo', 'up']);
    }

    const vni = randomInt(1, 16_777_216);
    const domain = `${tag}.test`;
    const spec = (n: 1 | 2, peers: string[]): NetworkSpec => ({
      name: 'overlay',
      bridge,
      subnet: `${over}.0/24`,
      gateway: `${over}.${n}`,
      mode: 'nat',
      ipv6: { subnet: v6, gateway: hostIn6(v6, n) },
      vxlan: { device: vxdev, vni, local: n === 1 ? u1 : u2, port: 4789, peers },
      domain,
      stateDir: join(tmp, `h${n}`),
      nftTable: tag,
    });
    const mac1 = '52:54:00:5a:00:01';
    const mac2 = '52:54:00:5a:00:02';
    const res: Reservation[] = [
      { mac: mac1, ip: `${over}.10`, hostname: 'vm1', ipv6: eui64Address(v6, mac1) },
      { mac: mac2, ip: `${over}.11`, hostname: 'vm2', ipv6: eui64Address(v6, mac2) },
    ];
    const driver = (h: string) => {
      const e = new NetnsExec(h, exec);
      return new BridgeNetworkDriver({ exec: e, fs: new NamespacedNetFs(e) });
    };
    const d1 = driver(ns.h1);
    const d2 = driver(ns.h2);
    // Host 2 first, with its guest already plugged in: the first RAs of host 1's new dnsmasq must not reach it.
    await d2.ensure(spec(2, [u1]), res);
    const g2 = await addGuest(ns.h2, ns.g2, 2, mac2);
    await d1.ensure(spec(1, [u2]), res);

    // Devices: vxlan port of the bridge, MTU 1450 (the bridge follows), one flooding entry per peer.
    const e1 = new NetnsExec(ns.h1, exec);
    const vx = await showLink(e1, vxdev);
    assert.equal(vx?.kind, 'vxlan');
    assert.equal(vx?.master, bridge);
    assert.equal(vx?.mtu, 1450);
    assert.deepEqual(vx?.vxlan, { vni, local: u1, port: 4789, learning: false });
    assert.equal((await showLink(e1, bridge))?.mtu, 1450);
    assert.deepEqual(await floodPeers(ns.h1), [u2]);
    await d1.ensure(spec(1, [u2]), res);
    await d1.ensure(spec(1, [u2]), res);
    assert.deepEqual(await floodPeers(ns.h1), [u2], 'ensure twice: no duplicated forwarding entry');
    assert.equal((await dnsmasqPids(join(tmp, 'h1'))).length, 1, 'one dnsmasq per host');
    assert.equal((await must(ns.h1, ['nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.includes(tag)).length, 2, 'one inet + one bridge table');
    // The driver's sysctl writes went to the host namespace it runs in (nat + IPv6: both forwardings on).
    assert.equal((await must(ns.h1, ['cat', '/proc/sys/net/ipv6/conf/all/forwarding'])).stdout.trim(), '1');
    assert.equal((await must(ns.h1, ['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1');

    // Guests: each gets its lease, router and MTU from its own host only.
    const g1 = await addGuest(ns.h1, ns.g1, 1, mac1);
    const out = join(tmp, 'lease');
    const script = join(tmp, 'udhcpc.sh');
    await writeFile(script, ['#!/bin/busybox sh', 'case "$1" in bound|renew)', `  echo "$ip $router $dns $mtu" > ${out}`, ';;', 'esac', ''].join('\n'), { mode: 0o755 });
    for (const [guest, dev, want, n] of [[ns.g1, g1, res[0]!, 1], [ns.g2, g2, res[1]!, 2]] as const) {
      for (let i = 0; i < 2; i++) {
        const r = await dhcp(guest, dev, script, out);
        assert.equal(r.code, 0, `udhcpc in ${guest}: ${r.stdout}${r.stderr}`);
        assert.deepEqual([r.ip, r.router, r.dns, r.mtu], [want.ip, `${over}.${n}`, `${over}.${n}`, '1450'], `lease of ${want.hostname} from host ${n}`);
      }
      await must(guest, ['ip', 'addr', 'add', `${want.ip}/24`, 'dev', dev]);
    }

    // IPv4 across the overlay (guest to guest, and to the other host's gateway).
    const ping = await inNs(ns.g1, ['/bin/busybox', 'ping', '-c', '3', '-W', '2', res[1]!.ip]);
    assert.equal(ping.code, 0, `ping ${res[1]!.ip}: ${ping.stdout}${ping.stderr}`);
    assert.equal((await inNs(ns.g2, ['/bin/busybox', 'ping', '-c', '1', '-W', '2', `${over}.1`])).code, 0);

    // IPv6: SLAAC addresses from the RAs of the own host, one default router (the own host), ping across.
    const want1 = res[0]!.ipv6!;
    const want2 = res[1]!.ipv6!;
    assert.deepEqual(await until(15_000, async () => ((await globalV6(ns.g1, g1)).includes(want1) ? [want1] : null)), [want1], 'SLAAC address of vm1');
    assert.deepEqual(await until(15_000, async () => ((await globalV6(ns.g2, g2)).includes(want2) ? [want2] : null)), [want2], 'SLAAC address of vm2');
    for (const [h, g, n] of [[ns.h1, ns.g1, 1], [ns.h2, ns.g2, 2]] as const) {
      const brAddrs = JSON.parse((await must(h, ['ip', '-j', '-6', 'addr', 'show', 'dev', bridge])).stdout) as Array<{ addr_info?: Array<{ local: string; scope: string }> }>;
      const ll = brAddrs.flatMap((d) => d.addr_info ?? []).find((x) => x.scope === 'link')?.local;
      assert.ok(ll, `link-local address of host ${n}'s bridge: ${JSON.stringify(brAddrs)}`);
      const routes = await until(10_000, async () => ((await defaultRoutes6(g)).length > 0 ? defaultRoutes6(g) : null));
      assert.deepEqual(routes?.map((r) => r.gateway), [ll], `the only IPv6 router of vm${n} is host ${n}`);
    }
    const ping6 = await inNs(ns.g1, ['/bin/busybox', 'ping', '-6', '-c', '3', '-W', '2', want2]);
    assert.equal(ping6.code, 0, `ping ${want2}: ${ping6.stdout}${ping6.stderr}`);
    const aaaa = await inNs(ns.g1, ['/bin/busybox', 'nslookup', '-type=AAAA', `vm2.${domain}`, `${over}.1`]);
    assert.match(aaaa.stdout, new RegExp(want2.replace(/\./g, '\\.')), `AAAA of vm2: ${aaaa.stdout}${aaaa.stderr}`);

    // Peers: an added peer gets one entry, a removed one loses it.
    const extra = `${under}.3`;
    await d1.ensure(spec(1, [extra, u2]), res);
    assert.deepEqual((await floodPeers(ns.h1)).sort(), [u2, extra].sort());
    await d1.ensure(spec(1, [u2]), res);
    assert.deepEqual(await floodPeers(ns.h1), [u2], 'removed peer has no entry');

    // An isolated network advertises no default route (router lifetime 0): vm1 loses its IPv6 router.
    await d1.ensure({ ...spec(1, [u2]), mode: 'isolated' }, res);
    assert.deepEqual(await until(20_000, async () => ((await defaultRoutes6(ns.g1)).length === 0 ? [] : null)), [], 'no IPv6 default route on an isolated network');
    assert.equal((await inNs(ns.g1, ['/bin/busybox', 'ping', '-c', '1', '-W', '2', res[1]!.ip])).code, 0, 'the overlay itself still works');

    // A changed VNI recreates the device (and its entries).
    await d1.ensure({ ...spec(1, [u2]), vxlan: { ...spec(1, [u2]).vxlan!, vni: vni === 1 ? 2 : vni - 1 } }, res);
    assert.equal((await showLink(e1, vxdev))?.vxlan?.vni, vni === 1 ? 2 : vni - 1);
    assert.deepEqual(await floodPeers(ns.h1), [u2]);

    // remove(): vxlan device, bridge, dnsmasq, state files and both nft tables go.
    await d1.remove(spec(1, [u2]));
    await d2.remove(spec(2, [u1]));
    for (const h of [ns.h1, ns.h2]) {
      const he = new NetnsExec(h, exec);
      assert.equal(await showLink(he, vxdev), null, `${h}: vxlan device gone`);
      assert.equal(await showLink(he, bridge), null, `${h}: bridge gone`);
      assert.equal((await must(h, ['nft', 'list', 'tables'])).stdout.includes(tag), false, `${h}: nft tables gone`);
    }
    assert.deepEqual(await dnsmasqPids(tmp), [], 'dnsmasq stopped');
    assert.equal(existsSync(join(tmp, 'h1')), false);
  } finally {
    await cleanup(tmp);
  }
  assert.ok(!(await exec.run(['ip', 'netns', 'list'])).stdout.includes(tag), 'no namespace left');
});
