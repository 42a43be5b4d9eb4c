import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { RealExec } from '../../../host/exec.js';
import { BridgeNetworkDriver } from './bridge-driver.js';
import { overlappingRoutes, showLink } from './ip-link.js';
import type { NetworkSpec, Reservation } from '../types.js';

// A real test: bridge, dnsmasq, nft table, a guest simulated by a network namespace with a veth pair.
// All traffic stays inside the bridge and namespaces created here; every object carries a per-run prefix.

const exec = new RealExec();
const tools = ['/usr/sbin/ip', '/usr/sbin/nft', '/usr/sbin/dnsmasq', '/bin/busybox'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (creates bridges, namespaces, nft tables and runs dnsmasq)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qh3${randomBytes(2).toString('hex')}`;
const bridge = `${tag}br`;
const run = (argv: string[], timeoutMs = 30_000) => exec.run(argv, { allowFailure: true, timeoutMs });
const inNs = (ns: string, argv: string[], timeoutMs?: number) => run(['ip', 'netns', 'exec', ns, ...argv], timeoutMs);

/** A 10.250.X.0/24 that overlaps no route or address of this host. */
async function freeSubnet(): Promise<string> {
  const routes = (await exec.run(['ip', '-j', '-4', 'route', 'show', 'table', 'all'])).stdout;
  const xs = [...randomBytes(64)];
  for (const x of xs) {
    const subnet = `10.250.${x}.0/24`;
    if (overlappingRoutes(routes, subnet, '').length === 0) return subnet;
  }
  throw new Error('no free 10.250.X.0/24 on this host');
}

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

/** Plug a simulated guest (namespace + veth, host end on the bridge) with this MAC. */
async function addGuest(n: number, mac: string): Promise<{ ns: string; dev: string }> {
  const ns = `${tag}n${n}`;
  const dev = `${tag}g${n}`;
  await exec.run(['ip', 'netns', 'add', ns]);
  await exec.run(['ip', 'link', 'add', `${tag}h${n}`, 'type', 'veth', 'peer', 'name', dev, 'netns', ns]);
  await exec.run(['ip', 'link', 'set', 'dev', `${tag}h${n}`, 'master', bridge, 'up']);
  await exec.run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'dev', dev, 'address', mac, 'up']);
  await exec.run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'dev', 'lo', 'up']);
  return { ns, dev };
}

/** Run busybox udhcpc in the guest; the script configures the leased address and records it in `out`. */
async function dhcp(g: { ns: string; dev: string }, script: string, out: string, tries: number) {
  await rm(out, { force: true });
  const res = await inNs(g.ns, ['/bin/busybox', 'udhcpc', '-i', g.dev, '-n', '-q', '-f', '-t', String(tries), '-T', '2', '-s', script], 60_000);
  const [ip, router, dns, domain] = existsSync(out) ? (await readFile(out, 'utf8')).trim().split(' ') : [];
  return { ...res, ip: ip ?? null, router, dns, domain };
}

/** Names of links carrying this run's prefix, after giving the kernel up to 5 s to finish netns teardown. */
async function ourLinks(): Promise<string[]> {
  for (let i = 0; ; i++) {
    const links = JSON.parse((await exec.run(['ip', '-j', 'link'])).stdout) as Array<{ ifname: string }>;
    const ours = links.map((l) => l.ifname).filter((n) => n.startsWith(tag));
    if (ours.length === 0 || i >= 50) return ours;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cleanup(tmp: string): Promise<void> {
  for (const n of [1, 2]) await run(['ip', 'netns', 'del', `${tag}n${n}`]);
  const links = JSON.parse((await run(['ip', '-j', 'link'])).stdout || '[]') as Array<{ ifname: string }>;
  for (const l of links) if (l.ifname.startsWith(tag)) await run(['ip', 'link', 'del', 'dev', l.ifname]);
  await run(['nft', 'delete', 'table', 'inet', tag]);
  await run(['nft', 'delete', 'table', 'bridge', tag]);
  for (const pid of await dnsmasqPids(tmp)) process.kill(pid, 'SIGTERM');
  await rm(tmp, { recursive: true, force: true });
}

test('bridge network: static DHCP, DNS, NAT table, taps, full cleanup', { skip, timeout: 180_000 }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), `${tag}-`));
  await chmod(tmp, 0o755); // dnsmasq drops to "nobody" and re-reads its hosts files on SIGHUP
  const forwardBefore = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
  try {
    const subnet = await freeSubnet();
    const base = subnet.slice(0, subnet.lastIndexOf('.'));
    const gateway = `${base}.1`;
    const domain = `${tag}.test`;
    const spec: NetworkSpec = { name: tag, bridge, subnet, gateway, mode: 'nat', domain, stateDir: join(tmp, 'net'), nftTable: tag };
    const mac1 = '52:54:00:3a:00:01';
    const mac2 = '52:54:00:3a:00:02';
    const vm1: Reservation = { mac: mac1, ip: `${base}.10`, hostname: 'vm1' };
    const vm2: Reservation = { mac: mac2, ip: `${base}.11`, hostname: 'vm2' };
    const driver = new BridgeNetworkDriver({ exec });

    await driver.ensure(spec, [vm1]);
    const rules1 = (await exec.run(['nft', '-j', 'list', 'table', 'inet', tag])).stdout;
    await driver.ensure(spec, [vm1]); // idempotent: same bridge, same dnsmasq (SIGHUP), table replaced
    const tables = (await exec.run(['nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.trim() === `table inet ${tag}`);
    assert.equal(tables.length, 1, 'exactly one nft table');
    const rules2 = (await exec.run(['nft', '-j', 'list', 'table', 'inet', tag])).stdout;
    const count = (s: string) => (JSON.parse(s).nftables as object[]).filter((o) => 'rule' in o).length;
    assert.equal(count(rules2), count(rules1), 'no duplicated rules after ensure() twice');
    assert.ok(count(rules1) >= 10);
    assert.match(rules2, /masquerade/);
    assert.equal((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim(), '1');
    const [pidA] = await dnsmasqPids(tmp);
    assert.ok(pidA, 'dnsmasq runs');
    // A config change (here: isolated) restarts dnsmasq, since SIGHUP does not re-read dnsmasq.conf.
    await driver.ensure({ ...spec, mode: 'isolated' }, [vm1]);
    const pidsB = await dnsmasqPids(tmp);
    assert.equal(pidsB.length, 1, 'one dnsmasq after restart');
    assert.notEqual(pidsB[0], pidA, 'dnsmasq restarted');
    assert.doesNotMatch((await exec.run(['nft', 'list', 'table', 'inet', tag])).stdout, /masquerade comment "nimbo network/);
    await driver.ensure(spec, [vm1]);
    assert.equal((await dnsmasqPids(tmp)).length, 1, 'one dnsmasq');
    const br = await showLink(exec, bridge);
    assert.equal(br?.kind, 'bridge');
    assert.deepEqual(br?.ipv4, [`${gateway}/24`]);

    const out = join(tmp, 'lease');
    const script = join(tmp, 'udhcpc.sh');
    await writeFile(
      script,
      ['#!/bin/busybox sh', 'case "$1" in bound|renew)', '  /bin/busybox ip addr add "$ip/24" dev "$interface"', `  echo "$ip $router $dns $domain" > ${out}`, ';;', 'esac', ''].join('\n'),
      { mode: 0o755 },
    );

    const g1 = await addGuest(1, mac1);
    const r1 = await dhcp(g1, script, out, 5);
    assert.equal(r1.code, 0, `udhcpc failed: ${r1.stdout}${r1.stderr}`);
    assert.equal(r1.ip, vm1.ip, 'guest got exactly its reserved address');
    assert.deepEqual([r1.router, r1.dns, r1.domain], [gateway, gateway, domain], 'router, DNS server and domain');

    const g2 = await addGuest(2, mac2);
    const r2 = await dhcp(g2, script, out, 3);
    assert.notEqual(r2.code, 0, 'a MAC without reservation gets no lease');
    assert.match(r2.stdout + r2.stderr, /broadcasting discover/, 'udhcpc did ask');
    assert.equal(r2.ip, null);

    const ns1 = await inNs(g1.ns, ['/bin/busybox', 'nslookup', `vm1.${domain}`, gateway]);
    assert.equal(ns1.code, 0, ns1.stdout + ns1.stderr);
    assert.match(ns1.stdout, new RegExp(`Address:?\\s*(\\d+:\\s*)?${vm1.ip.replace(/\./g, '\\.')}\\b`));

    // Other host services are not reachable from guests (targeted drop on the bridge in the input chain).
    let connections = 0;
    const server = createServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((ok) => server.listen(0, gateway, ok));
    const port = (server.address() as AddressInfo).port;
    const nc = await inNs(g1.ns, ['/bin/busybox', 'nc', '-w', '2', gateway, String(port)]);
    server.close();
    assert.notEqual(nc.code, 0, 'guest cannot open a TCP connection to a host service');
    assert.equal(connections, 0);

    // A new reservation is picked up by SIGHUP (dnsmasq re-reads as its unprivileged user).
    await driver.setReservations(spec, [vm1, vm2]);
    assert.equal((await dnsmasqPids(tmp)).length, 1, 'still one dnsmasq');
    const r3 = await dhcp(g2, script, out, 5);
    assert.equal(r3.ip, vm2.ip, `after setReservations: ${r3.stdout}${r3.stderr}`);
    const ns2 = await inNs(g1.ns, ['/bin/busybox', 'nslookup', `vm2.${domain}`, gateway]);
    assert.match(ns2.stdout, new RegExp(vm2.ip.replace(/\./g, '\\.')));

    const tap = `${tag}t0`;
    await driver.createTap(tap, bridge, 'nobody');
    await driver.createTap(tap, bridge, 'nobody');
    const t = await showLink(exec, tap);
    assert.equal(t?.kind, 'tun');
    assert.equal(t?.master, bridge);
    assert.equal(t?.up, true);
    assert.equal(await driver.tapExists(tap), true);
    await driver.deleteTap(tap);
    await driver.deleteTap(tap);
    assert.equal(await driver.tapExists(tap), false);

    await driver.remove(spec);
    for (const n of [1, 2]) await exec.run(['ip', 'netns', 'del', `${tag}n${n}`]);
    assert.deepEqual(await ourLinks(), [], 'no bridge, veth or tap left');
    assert.ok(!(await exec.run(['ip', 'netns', 'list'])).stdout.includes(tag), 'no namespace left');
    assert.equal((await run(['nft', 'list', 'table', 'inet', tag])).code !== 0, true, 'nft table gone');
    assert.equal((await run(['nft', 'list', 'table', 'bridge', tag])).code !== 0, true, 'nft bridge table gone');
    assert.deepEqual(await dnsmasqPids(tmp), [], 'dnsmasq stopped');
    assert.equal(existsSync(spec.stateDir), false, 'state directory removed');
  } finally {
    await cleanup(tmp);
    await writeFile('/proc/sys/net/ipv4/ip_forward', `${forwardBefore}\n`);
  }
});
