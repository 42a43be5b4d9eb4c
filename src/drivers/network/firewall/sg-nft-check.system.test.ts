import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runArgv } from '../../../host/exec.js';
import { renderRuleset, renderRulesetRemoval } from './ruleset.js';
import type { Port, SecurityGroup } from './sg-model.js';
import { renderSecurityFragment } from './sg-render.js';
import { bigCase, smallCase } from './sg-test-fixtures.js';

// The kernel accepts the security-group fragment inside the daemon's two tables, and it behaves:
// `nft -c` (check only) on the host, then real loads inside throw-away network namespaces. Every
// namespace carries the per-run prefix qsg + random and is deleted in `finally`.
// Needs root, iproute2, nftables and busybox (ping); the TCP peers are this node binary.

const tools = ['/usr/sbin/nft', '/usr/sbin/ip', '/usr/bin/busybox'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (nft talks to the kernel even in check mode; creates network namespaces)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qsg${randomBytes(3).toString('hex')}`;
const TABLE = 'nimbo';
const nft = (script: string, ns?: string, check = false) =>
  runArgv([...(ns ? ['ip', 'netns', 'exec', ns] : []), 'nft', ...(check ? ['-c'] : []), '-f', '-'], { input: script, allowFailure: true, timeoutMs: 60_000 });
const full = (groups: SecurityGroup[], ports: Port[], table = TABLE) => renderRuleset(table, [renderSecurityFragment(groups, ports)]);

test('nft -c accepts the full script: the small case, and 5 groups with 1,000 rules on 8 ports', { skip }, async () => {
  const s = smallCase();
  const c = bigCase(1000, 5, 8, 42);
  for (const script of [full(s.groups, s.ports, tag), full(c.groups, c.ports, tag), full([], [], tag)]) {
    const res = await nft(script, undefined, true);
    assert.equal(res.code, 0, res.stderr);
  }
});

test('the script loads in a network namespace; re-applying replaces both tables without duplicates', { skip }, async (t) => {
  const ns = `${tag}ns`;
  await runArgv(['ip', 'netns', 'add', ns]);
  try {
    const c = bigCase(1000, 5, 8, 42);
    const s = full(c.groups, c.ports);
    const list = async () => (await runArgv(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset'])).stdout;
    const first = await nft(s, ns);
    assert.equal(first.code, 0, first.stderr);
    const list1 = await list();
    const second = await nft(s, ns);
    assert.equal(second.code, 0, second.stderr);
    const list2 = await list();
    assert.equal(list2, list1);
    assert.deepEqual(list2.match(/^table .*$/gm), [`table inet ${TABLE} {`, `table bridge ${TABLE} {`]);
    assert.match(list2, /set sg_g4_in6_l4 \{/);
    assert.match(list2, /ip saddr vmap @sg_out4/);
    // A changed 1,000-rule policy is applied in one transaction as well.
    const c2 = bigCase(1000, 5, 8, 43);
    const started = Date.now();
    const third = await nft(full(c2.groups, c2.ports), ns);
    assert.equal(third.code, 0, third.stderr);
    t.diagnostic(`applying a changed 1,000-rule ruleset took ${Date.now() - started} ms`);
    const gone = await nft(renderRulesetRemoval(TABLE), ns);
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal((await list()).trim(), '');
  } finally {
    await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
});

/** Collects a child's stdout; `wait(text)` resolves once it has appeared. */
function watch(child: ChildProcessWithoutNullStreams) {
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return async (text: string, ms = 5000): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (out.includes(text)) return true;
    return out.includes(text);
  };
}

test('in namespaces: stateful groups change live; a guest that changes its IP or MAC can no longer send', { skip, timeout: 240_000 }, async () => {
  // Namespace H holds a bridge with two veth "taps"; namespaces A and B are the guests behind them.
  const [h, a, b] = ['h', 'a', 'b'].map((x) => `${tag}${x}`) as [string, string, string];
  const [tapA, tapB] = [`${tag}ta`, `${tag}tb`];
  const [macA, macB] = ['52:54:00:99:00:0a', '52:54:00:99:00:0b'];
  const [a4, b4, a6, b6, h4] = ['10.99.0.1', '10.99.0.2', 'fd00:99::1', 'fd00:99::2', '10.99.0.254'];
  const children: ChildProcessWithoutNullStreams[] = [];
  const sh = (ns: string, argv: string[]) => runArgv(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: 30_000 });
  const flushNeigh = async () => {
    for (const ns of [a, b]) await sh(ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    await sh(h, ['ip', 'neigh', 'flush', 'dev', 'br0']);
  };
  const pingOnce = async (from: string, to: string) =>
    (await runArgv(['ip', 'netns', 'exec', from, 'busybox', 'ping', ...(to.includes(':') ? ['-6'] : []), '-c', '1', '-W', '1', to], { allowFailure: true, timeoutMs: 10_000 })).code === 0;
  /** Up to 3 pings, a short wait between them (ARP/ND may need a moment after a change). */
  const reachable = async (from: string, to: string) => {
    for (let i = 0; i < 3; i++) {
      if (await pingOnce(from, to)) return true;
      await sleep(300);
    }
    return false;
  };
  /** A new TCP connection from A to B's echo server: established within 2 s or not. */
  const canConnect = async (to: string) => {
    const code = `const s=require('net').connect(8080,${JSON.stringify(to)});s.setTimeout(2000,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1))`;
    return (await runArgv(['ip', 'netns', 'exec', a, process.execPath, '-e', code], { allowFailure: true, timeoutMs: 10_000 })).code === 0;
  };
  const start = (ns: string, code: string) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code]);
    children.push(child);
    return { child, wait: watch(child) };
  };

  const groups: SecurityGroup[] = [
    { name: 'closed', rules: [] },
    {
      name: 'open',
      rules: [
        { id: 'ping4', direction: 'ingress', protocol: 'icmp', source: '10.99.0.0/24' },
        { id: 'ping6', direction: 'ingress', protocol: 'icmp', source: 'fd00:99::/64' },
        { id: 'echo', direction: 'ingress', protocol: 'tcp', ports: { from: 8080, to: 8080 }, source: '10.99.0.0/24' },
      ],
    },
    {
      // A's egress is default-deny except these; its inbound is closed (replies pass as established).
      name: 'client',
      rules: [
        { id: 'ping4', direction: 'egress', protocol: 'icmp', destination: '10.99.0.0/24' },
        { id: 'ping6', direction: 'egress', protocol: 'icmp', destination: { group: 'open' } },
        { id: 'echo', direction: 'egress', protocol: 'tcp', ports: { from: 8080, to: 8080 }, destination: { group: 'open' } },
      ],
    },
  ];
  const load = async (bGroups: string[]) => {
    const s = full(groups, [
      { tap: tapA, mac: macA, ipv4: [a4], ipv6: [a6], groups: ['client'] },
      { tap: tapB, mac: macB, ipv4: [b4], ipv6: [b6], groups: bGroups },
    ]);
    const res = await nft(s, h);
    assert.equal(res.code, 0, res.stderr);
  };

  try {
    for (const ns of [h, a, b]) await runArgv(['ip', 'netns', 'add', ns]);
    await sh(h, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(h, ['ip', 'addr', 'add', `${h4}/24`, 'dev', 'br0']);
    await sh(h, ['ip', 'link', 'set', 'br0', 'up']);
    for (const [ns, tap, mac, ip4, ip6] of [[a, tapA, macA, a4, a6], [b, tapB, macB, b4, b6]] as const) {
      await sh(h, ['ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh(h, ['ip', 'link', 'set', tap, 'master', 'br0', 'up']);
      await sh(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      await sh(ns, ['ip', 'link', 'set', 'eth0', 'address', mac]);
      await sh(ns, ['ip', 'addr', 'add', `${ip4}/24`, 'dev', 'eth0']);
      await sh(ns, ['ip', 'addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
      await sh(ns, ['ip', 'link', 'set', 'eth0', 'up']);
      await sh(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    const bridgeNf = (await sh(h, ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'])).stdout.trim();
    assert.equal(bridgeNf, '1', 'br_netfilter hands bridged IPv4 to the inet hooks in this namespace');
    const server = start(b, `require('net').createServer((s)=>s.pipe(s)).listen(8080,()=>console.log('listening'))`);
    assert.ok(await server.wait('listening'), 'the echo server in B listens');

    await load(['closed']);
    assert.equal(await reachable(a, b4), false, 'B denies inbound IPv4 by default');
    assert.equal(await reachable(a, b6), false, 'B denies inbound IPv6 by default');
    assert.equal(await reachable(h, b4), false, 'the host is filtered by B\'s ingress rules too');
    assert.equal(await canConnect(b4), false, 'B denies a new TCP connection by default');

    await load(['open']);
    assert.equal(await reachable(a, b4), true, 'the changed policy opens IPv4 ping at once');
    assert.equal(await reachable(a, b6), true, 'and IPv6 ping');
    assert.equal(await reachable(h, b4), true, 'and ping from the host');
    const client = start(a, `const s=require('net').connect(8080,${JSON.stringify(b4)});s.on('connect',()=>console.log('connected'));s.on('error',(e)=>console.log('error '+e.code));s.setEncoding('utf8');s.on('data',(d)=>process.stdout.write(d));process.stdin.setEncoding('utf8');process.stdin.on('data',(d)=>s.write(d))`);
    assert.ok(await client.wait('connected'), 'A connects to B:8080');
    client.child.stdin.write('first-line\n');
    assert.ok(await client.wait('first-line'), 'the echo comes back');

    await load(['closed']);
    client.child.stdin.write('after-removal\n');
    assert.ok(await client.wait('after-removal'), 'the established connection keeps working after its rule is removed');
    assert.equal(await canConnect(b4), false, 'while a new connection is refused');
    client.child.kill();

    await load(['open']);
    // A takes another IPv4 address: its ARP and IP frames no longer pass.
    await sh(a, ['ip', '-4', 'addr', 'flush', 'dev', 'eth0']);
    await sh(a, ['ip', 'addr', 'add', '10.99.0.50/24', 'dev', 'eth0']);
    await flushNeigh();
    assert.equal(await reachable(a, b4), false, 'a spoofed IPv4 source is dropped');
    await sh(a, ['ip', '-4', 'addr', 'flush', 'dev', 'eth0']);
    await sh(a, ['ip', 'addr', 'add', `${a4}/24`, 'dev', 'eth0']);
    await flushNeigh();
    assert.equal(await reachable(a, b4), true, 'its own IPv4 address works again');
    // The same for IPv6 (ND and IP).
    await sh(a, ['ip', 'addr', 'del', `${a6}/64`, 'dev', 'eth0']);
    await sh(a, ['ip', 'addr', 'add', 'fd00:99::50/64', 'dev', 'eth0', 'nodad']);
    await flushNeigh();
    assert.equal(await reachable(a, b6), false, 'a spoofed IPv6 source is dropped');
    // A takes another MAC: dropped.
    await sh(a, ['ip', 'link', 'set', 'eth0', 'address', '52:54:00:99:00:ee']);
    await flushNeigh();
    assert.equal(await reachable(a, b4), false, 'a spoofed MAC is dropped');
    // Control: without the tables the same spoofed guest gets through, so the drops above were the firewall's.
    const gone = await nft(renderRulesetRemoval(TABLE), h);
    assert.equal(gone.code, 0, gone.stderr);
    await flushNeigh();
    assert.equal(await reachable(a, b4), true, 'without the tables the spoofed MAC passes');
    assert.equal(await reachable(a, b6), true, 'and the spoofed IPv6 source');
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [a, b, h]) await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
});
