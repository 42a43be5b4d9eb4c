import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runArgv } from '../../../host/exec.js';
import { renderForwardRuleset, renderForwardTableRemoval } from './fwd-render.js';
import { parseRate, renderTcPlan } from '../qos/tc-render.js';
import { parseTapCounters, tapCountersArgv } from '../qos/counters.js';
import type { FloatingIp, PortForward } from './fwd-model.js';

// Real nft and tc: the forward ruleset is checked by the kernel (`nft -c`, nothing is changed on the host) and then
// applied twice inside a private network namespace; tc limits go on a veth in that namespace. Everything created
// here carries the per-run prefix `qfw` and is removed afterwards.

const tools = ['/usr/sbin/ip', '/usr/sbin/nft', '/usr/sbin/tc'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (nft check mode talks to the kernel; creates a network namespace, veths and qdiscs)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `qfw${randomBytes(3).toString('hex')}`;
const ns = tag;
const run = (argv: string[], input?: string) => runArgv(argv, { allowFailure: true, timeoutMs: 30_000, input });
const inNs = (argv: string[], input?: string) => run(['ip', 'netns', 'exec', ns, ...argv], input);

const forwards: PortForward[] = [
  { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, targetAddress: '10.77.0.5', targetPort: 22 },
  { protocol: 'tcp', hostAddress: '192.0.2.1', hostPort: 8000, hostPortEnd: 8063, targetAddress: '10.77.0.6', targetPort: 9000 },
  { protocol: 'udp', hostAddress: '192.0.2.1', hostPort: 53, targetAddress: '10.77.0.6', targetPort: 5353 },
];
const floats: FloatingIp[] = [{ address: '198.51.100.7', targetAddress: '10.77.0.9' }];
const table = `${tag}_fwd`;

test('forward ruleset and tc limits against the real kernel', { skip, timeout: 60_000 }, async (t) => {
  try {
    const script = renderForwardRuleset(table, forwards, floats, { guestSubnets: ['10.77.0.0/24', '10.78.0.0/24'] });
    await t.test('nft -c accepts the rendered ruleset (full and empty)', async () => {
      const full = await runArgv(['nft', '-c', '-f', '-'], { input: script, allowFailure: true });
      assert.equal(full.code, 0, full.stderr);
      const empty = await runArgv(['nft', '-c', '-f', '-'], { input: renderForwardRuleset(table, [], []), allowFailure: true });
      assert.equal(empty.code, 0, empty.stderr);
    });

    assert.equal((await run(['ip', 'netns', 'add', ns])).code, 0, 'ip netns add');
    await t.test('applying twice in a namespace gives one table, no duplicated rules; removal leaves nothing', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await inNs(['nft', '-f', '-'], script);
        assert.equal(r.code, 0, r.stderr);
      }
      const listed = await inNs(['nft', '-j', 'list', 'table', 'ip', table]);
      assert.equal(listed.code, 0, listed.stderr);
      const items = (JSON.parse(listed.stdout) as { nftables: Record<string, unknown>[] }).nftables;
      assert.equal(items.filter((x) => 'table' in x).length, 1);
      assert.equal(items.filter((x) => 'rule' in x).length, 9);
      const tcpMap = items.find((x) => 'map' in x && (x.map as { name: string }).name === 'fwd_tcp')?.map as { elem?: unknown[] };
      assert.equal(tcpMap.elem?.length, 65);
      const rm = await inNs(['nft', '-f', '-'], renderForwardTableRemoval(table));
      assert.equal(rm.code, 0, rm.stderr);
      assert.notEqual((await inNs(['nft', 'list', 'table', 'ip', table])).code, 0);
    });

    const a = `${tag}a`;
    const b = `${tag}b`;
    assert.equal((await run(['ip', '-n', ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b])).code, 0, 'veth');
    await inNs(['ip', 'link', 'set', a, 'up']);
    await inNs(['ip', 'link', 'set', b, 'up']);
    const plan = renderTcPlan(a, { ingress: parseRate('100mbit'), egress: parseRate('10mbit') });
    for (const argv of plan.clear) await inNs(argv); // nothing to clear yet: failures expected and ignored

    await t.test('tbf toward the guest is applied and read back', async () => {
      const r = await inNs(plan.apply[0]!);
      assert.equal(r.code, 0, r.stderr);
      const shown = await inNs(['tc', '-j', 'qdisc', 'show', 'dev', a]);
      const qd = (JSON.parse(shown.stdout) as { kind: string; root?: boolean; options: { rate: number; burst: number } }[]).find((q) => q.root);
      assert.equal(qd?.kind, 'tbf');
      assert.equal(qd?.options.rate, 100_000_000 / 8); // tc -j prints bytes per second
      assert.equal(qd?.options.burst, 125_000);
    });

    await t.test('ingress qdisc + police for traffic from the guest', async (st) => {
      const q = await inNs(plan.apply[1]!);
      assert.equal(q.code, 0, q.stderr);
      const f = await inNs(plan.apply[2]!);
      if (f.code !== 0 && /Failed to load TC action module|classifier not found/i.test(f.stderr)) {
        st.skip(`this kernel cannot load the u32 classifier or the police action (${f.stderr.trim().split('\n')[0]}); modules cls_u32/act_police`);
        return;
      }
      assert.equal(f.code, 0, f.stderr);
      const shown = await inNs(['tc', '-j', 'filter', 'show', 'dev', a, 'parent', 'ffff:']);
      assert.match(shown.stdout, /police/);
    });

    await t.test('clearing removes nimbo qdiscs', async () => {
      for (const argv of renderTcPlan(a, {}).clear) await inNs(argv);
      const shown = await inNs(['tc', '-j', 'qdisc', 'show', 'dev', a]);
      assert.doesNotMatch(shown.stdout, /"tbf"|"ingress"/);
    });

    await t.test('counters of the veth parse from the real ip JSON', async () => {
      const r = await inNs(tapCountersArgv(a));
      assert.equal(r.code, 0, r.stderr);
      const c = parseTapCounters(r.stdout);
      for (const v of Object.values(c)) assert.ok(Number.isInteger(v) && v >= 0);
    });
  } finally {
    await run(['ip', 'netns', 'del', ns]); // takes the veth pair, its qdiscs and the nft table with it
    assert.equal((await run(['ip', 'netns', 'list'])).stdout.includes(ns), false, 'namespace left behind');
  }
});
