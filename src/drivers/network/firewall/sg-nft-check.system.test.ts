import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runArgv } from '../../../host/exec.js';
import { renderSecurityRuleset } from './sg-render.js';
import { bigCase } from './sg-test-fixtures.js';

// The kernel accepts the rendered security-group table: `nft -c` (check only, nothing applied) on the
// host, then a real load, twice, inside a throw-away network namespace (prefix qsg + random).
// `ct state` in the bridge family needs nf_conntrack_bridge (CONFIG_NF_CONNTRACK_BRIDGE, Linux >= 5.3);
// on a kernel without it, the full script cannot load, and the tests say so and check everything else.

const tools = ['/usr/sbin/nft', '/usr/sbin/ip'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (nft talks to the kernel even in check mode; creates a network namespace)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qsg${randomBytes(3).toString('hex')}`;
const nft = (script: string, ns?: string) =>
  runArgv([...(ns ? ['ip', 'netns', 'exec', ns] : []), 'nft', '-f', '-'], { input: script, allowFailure: true, timeoutMs: 60_000 });
const nftCheck = (script: string) => runArgv(['nft', '-c', '-f', '-'], { input: script, allowFailure: true, timeoutMs: 60_000 });
/** The script without conntrack matches (for kernels without nf_conntrack_bridge). */
const withoutCt = (script: string) => script.split('\n').filter((l) => !l.includes('ct state')).join('\n');

async function bridgeConntrack(): Promise<boolean> {
  const probe = `table bridge ${tag}p {\n\tchain c {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tct state established accept\n\t}\n}\n`;
  return (await nftCheck(probe)).code === 0;
}

const c = bigCase(1000, 5, 8, 42);
const script = renderSecurityRuleset('nimbo_sg', c.groups, c.ports);

test('nft -c accepts the rendered table: 5 groups, 1,000 rules, 8 ports', { skip }, async (t) => {
  const ct = await bridgeConntrack();
  const res = await nftCheck(ct ? script : withoutCt(script));
  assert.equal(res.code, 0, res.stderr);
  if (!ct) t.diagnostic('kernel lacks nf_conntrack_bridge: checked the script without its 2 `ct state` rules');
});

test('the full table (with ct state) passes nft -c', { skip }, async (t) => {
  if (!(await bridgeConntrack())) {
    t.skip('this kernel has no nf_conntrack_bridge (CONFIG_NF_CONNTRACK_BRIDGE), so `ct state` in a bridge table is refused (EPROTO)');
    return;
  }
  const res = await nftCheck(script);
  assert.equal(res.code, 0, res.stderr);
});

test('the table loads for real in a network namespace, and re-applying replaces it without duplicates', { skip }, async (t) => {
  const ns = `${tag}ns`;
  await runArgv(['ip', 'netns', 'add', ns]);
  try {
    const ct = await bridgeConntrack();
    const s = ct ? script : withoutCt(script);
    if (!ct) t.diagnostic('kernel lacks nf_conntrack_bridge: loaded the script without its `ct state` rules');
    const first = await nft(s, ns);
    assert.equal(first.code, 0, first.stderr);
    const list1 = (await runArgv(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset'])).stdout;
    const second = await nft(s, ns);
    assert.equal(second.code, 0, second.stderr);
    const list2 = (await runArgv(['ip', 'netns', 'exec', ns, 'nft', 'list', 'ruleset'])).stdout;
    assert.equal(list2, list1);
    assert.equal(list2.match(/^table /gm)?.length, 1);
    assert.match(list2, /set g4_in_l4 \{/);
    assert.match(list2, /iifname vmap @port_out/);
    // A changed rule set is applied in one transaction as well.
    const c2 = bigCase(1000, 5, 8, 43);
    const s2 = renderSecurityRuleset('nimbo_sg', c2.groups, c2.ports);
    const started = Date.now();
    const third = await nft(ct ? s2 : withoutCt(s2), ns);
    assert.equal(third.code, 0, third.stderr);
    t.diagnostic(`applying a changed 1,000-rule table took ${Date.now() - started} ms`);
  } finally {
    await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
});

test('in a namespace: a group opens ping live; a guest that changes its IP or MAC can no longer send', { skip }, async (t) => {
  // Namespace H holds a bridge with two veth "taps"; namespaces A and B are the guests behind them.
  const [h, a, b] = ['h', 'a', 'b'].map((x) => `${tag}${x}`) as [string, string, string];
  const tapA = `${tag}ta`;
  const tapB = `${tag}tb`;
  const macA = '52:54:00:99:00:0a';
  const macB = '52:54:00:99:00:0b';
  const sh = (ns: string, argv: string[]) => runArgv(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: 30_000 });
  const ping = async (from: string, to: string) =>
    (await runArgv(['ip', 'netns', 'exec', from, 'busybox', 'ping', '-c', '1', '-W', '1', to], { allowFailure: true, timeoutMs: 10_000 })).code === 0;
  try {
    for (const ns of [h, a, b]) await runArgv(['ip', 'netns', 'add', ns]);
    await sh(h, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(h, ['ip', 'link', 'set', 'br0', 'up']);
    for (const [ns, tap, mac, ip] of [[a, tapA, macA, '10.99.0.1'], [b, tapB, macB, '10.99.0.2']] as const) {
      await sh(h, ['ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh(h, ['ip', 'link', 'set', tap, 'master', 'br0', 'up']);
      await sh(ns, ['ip', 'link', 'set', 'eth0', 'address', mac]);
      await sh(ns, ['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      await sh(ns, ['ip', 'link', 'set', 'eth0', 'up']);
      await sh(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    const ct = await bridgeConntrack();
    if (!ct) t.diagnostic('kernel lacks nf_conntrack_bridge: stateless variant, so both guests allow icmp in');
    const groups = [
      { name: 'pingers', rules: [{ id: 'icmp', direction: 'ingress' as const, protocol: 'icmp' as const, source: '10.99.0.0/24' }] },
      { name: 'closed', rules: [] },
    ];
    const load = async (bGroups: string[]) => {
      const s = renderSecurityRuleset('nimbo_sg', groups, [
        { tap: tapA, mac: macA, ipv4: ['10.99.0.1'], groups: ['pingers'] },
        { tap: tapB, mac: macB, ipv4: ['10.99.0.2'], groups: bGroups },
      ]);
      const res = await nft(ct ? s : withoutCt(s), h);
      assert.equal(res.code, 0, res.stderr);
    };
    await load(['closed']);
    assert.equal(await ping(a, '10.99.0.2'), false, 'B denies inbound by default');
    await load(['pingers']);
    assert.equal(await ping(a, '10.99.0.2'), true, 'the group change opens ping at once');
    // A takes another address: its frames (IP and ARP) no longer pass.
    await sh(a, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await sh(a, ['ip', 'addr', 'add', '10.99.0.50/24', 'dev', 'eth0']);
    await sh(b, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    assert.equal(await ping(a, '10.99.0.2'), false, 'spoofed IPv4 source is dropped');
    await sh(a, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await sh(a, ['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'eth0']);
    assert.equal(await ping(a, '10.99.0.2'), true, 'its own address works again');
    // A takes another MAC: dropped.
    await sh(a, ['ip', 'link', 'set', 'eth0', 'address', '52:54:00:99:00:ee']);
    await sh(b, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    assert.equal(await ping(a, '10.99.0.2'), false, 'spoofed MAC is dropped');
    // Control: without the table the same spoofed guest gets through, so the drops above were the firewall's.
    await sh(h, ['nft', 'delete', 'table', 'bridge', 'nimbo_sg']);
    assert.equal(await ping(a, '10.99.0.2'), true, 'without the table the spoofed MAC passes');
  } finally {
    for (const ns of [a, b, h]) await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
});
