import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runArgv } from '../../../host/exec.js';
import { renderForwardFragment, type ForwardRenderOptions } from './fwd-render.js';
import { renderRuleset, renderRulesetRemoval } from './ruleset.js';
import type { FloatingIp, PortForward } from './fwd-model.js';

// Real nft and tc: the forward ruleset is checked by the kernel (`nft -c`, nothing is changed on the host) and then
// applied twice inside a private network namespace. Everything created
// here carries the per-run prefix `qfw` and is removed afterwards.

const tools = ['/usr/sbin/ip', '/usr/sbin/nft'];
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
const renderForwardRuleset = (f: PortForward[], fl: FloatingIp[], o?: ForwardRenderOptions) => renderRuleset(table, [renderForwardFragment(f, fl, o)]);

test('forward ruleset against the real kernel', { skip, timeout: 60_000 }, async (t) => {
  try {
    const script = renderForwardRuleset(forwards, floats, { guestSubnets: ['10.77.0.0/24', '10.78.0.0/24'] });
    await t.test('nft -c accepts the rendered ruleset (full and empty)', async () => {
      const full = await runArgv(['nft', '-c', '-f', '-'], { input: script, allowFailure: true });
      assert.equal(full.code, 0, full.stderr);
      const empty = await runArgv(['nft', '-c', '-f', '-'], { input: renderForwardRuleset([], []), allowFailure: true });
      assert.equal(empty.code, 0, empty.stderr);
    });

    assert.equal((await run(['ip', 'netns', 'add', ns])).code, 0, 'ip netns add');
    await t.test('applying twice in a namespace gives one table, no duplicated rules; removal leaves nothing', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await inNs(['nft', '-f', '-'], script);
        assert.equal(r.code, 0, r.stderr);
      }
      const listed = await inNs(['nft', '-j', 'list', 'table', 'inet', table]);
      assert.equal(listed.code, 0, listed.stderr);
      const items = (JSON.parse(listed.stdout) as { nftables: Record<string, unknown>[] }).nftables;
      assert.equal(items.filter((x) => 'table' in x).length, 1);
      assert.equal(items.filter((x) => 'rule' in x).length, 10);
      const tcpMap = items.find((x) => 'map' in x && (x.map as { name: string }).name === 'fwd_tcp')?.map as { elem?: unknown[] };
      assert.equal(tcpMap.elem?.length, 65);
      const rm = await inNs(['nft', '-f', '-'], renderRulesetRemoval(table));
      assert.equal(rm.code, 0, rm.stderr);
      assert.notEqual((await inNs(['nft', 'list', 'table', 'inet', table])).code, 0);
    });

  } finally {
    await run(['ip', 'netns', 'del', ns]); // takes the nft tables with it
    assert.equal((await run(['ip', 'netns', 'list'])).stdout.includes(ns), false, 'namespace left behind');
  }
});
