/**
 * bench/firewall: TCP throughput (iperf3, one stream) between two network namespaces A and B that
 * are attached like instance ports (veth "taps") to a bridge in a third namespace H, once with no
 * rules in H and once with the daemon's full ruleset (renderRuleset with the security-group
 * fragment) where each port's groups hold 1,000 security-group rules in all (4 groups of 250, both
 * ports in all four; the rules allowing the iperf3 flow, egress for A and ingress for B, among them).
 * Before measuring, the bench checks that the ruleset really filters the path: without the iperf3
 * rules a new connection is refused. The two configurations alternate within each of RUNS runs
 * (default 7, each DURATION seconds, default 5, first second omitted); medians are reported. Then the
 * time to apply a 1,000-rule change (`nft -f -` of the whole script, APPLY_RUNS times). The last line
 * is `firewall: ratio R.RR` (with rules / without; target >= 0.90). Everything carries the per-run
 * prefix qfwXXXX and is removed on exit, failure or SIGINT/SIGTERM. Needs root, iproute2, nftables,
 * iperf3 (run: npm run bench:firewall).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { runArgv } from '../src/host/exec.js';
import { renderRuleset, renderRulesetRemoval } from '../src/drivers/network/firewall/ruleset.js';
import type { Port, Rule, SecurityGroup } from '../src/drivers/network/firewall/sg-model.js';
import { renderSecurityFragment } from '../src/drivers/network/firewall/sg-render.js';
import { randomRules } from '../src/drivers/network/firewall/sg-test-fixtures.js';

const RUNS = Number(process.env.RUNS ?? 7);
const DURATION = Number(process.env.DURATION ?? 5);
const APPLY_RUNS = Number(process.env.APPLY_RUNS ?? 7);
const RULES = 1000;
const GROUPS = 4;
const TABLE = 'nimbo';
const IPERF = '/usr/bin/iperf3';
const PORT = 5201;

const run = `qfw${randomBytes(2).toString('hex')}`;
const [h, a, b] = ['h', 'a', 'b'].map((x) => `${run}${x}`) as [string, string, string];
const [tapA, tapB] = [`${run}ta`, `${run}tb`];
const [a4, b4, a6, b6] = ['10.99.0.1', '10.99.0.2', 'fd00:99::1', 'fd00:99::2'];
const children: ChildProcess[] = [];
const namespaces: string[] = [];

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const gbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;
const sh = (ns: string, argv: string[], input?: string) => runArgv(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs: 120_000, input });

/**
 * The bench policy: GROUPS groups of RULES / GROUPS seeded random rules (IPv4 peers moved from 10/8
 * to 172/8 and no rule without a peer, so that none of them happens to allow the measured flow), the
 * last group ending in the rules that do (when `allow`).
 */
function policy(seed: number, allow: boolean): { groups: SecurityGroup[]; ports: Port[] } {
  const per = RULES / GROUPS;
  const names = Array.from({ length: GROUPS }, (_, i) => `bench-${i}`);
  const iperf: Rule[] = [
    { id: 'iperf-in', direction: 'ingress', protocol: 'tcp', ports: { from: PORT, to: PORT }, source: `${a4}/32` },
    { id: 'iperf-out', direction: 'egress', protocol: 'tcp', ports: { from: PORT, to: PORT }, destination: { group: 'bench-3' } },
  ];
  const groups = names.map((name, i): SecurityGroup => {
    const rules = randomRules(per, seed * 100 + i).map((r) => {
      const key = r.direction === 'ingress' ? 'source' : 'destination';
      const peer = r[key];
      return { ...r, [key]: peer === undefined ? '172.16.0.0/12' : typeof peer === 'string' ? peer.replace(/^10\./, '172.') : peer };
    });
    return { name, rules: i === GROUPS - 1 && allow ? [...rules.slice(0, per - iperf.length), ...iperf] : rules };
  });
  const ports: Port[] = [
    { tap: tapA, mac: '52:54:00:99:00:0a', ipv4: [a4], ipv6: [a6], groups: names },
    { tap: tapB, mac: '52:54:00:99:00:0b', ipv4: [b4], ipv6: [b6], groups: names },
  ];
  return { groups, ports };
}

async function cleanupAll(): Promise<void> {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const ns of namespaces.splice(0).reverse()) {
    await runArgv(['ip', 'netns', 'del', ns], { allowFailure: true }).catch((e) => console.error(`cleanup: ${String(e)}`));
  }
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`firewall: ${sig}, cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

async function setup(): Promise<void> {
  for (const ns of [h, a, b]) {
    await runArgv(['ip', 'netns', 'add', ns]);
    namespaces.push(ns);
  }
  await sh(h, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await sh(h, ['ip', 'link', 'set', 'br0', 'up']);
  for (const [ns, tap, mac, ip4, ip6] of [[a, tapA, '52:54:00:99:00:0a', a4, a6], [b, tapB, '52:54:00:99:00:0b', b4, b6]] as const) {
    await sh(h, ['ip', 'link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await sh(h, ['ip', 'link', 'set', tap, 'master', 'br0', 'up']);
    await sh(ns, ['ip', 'link', 'set', 'eth0', 'address', mac]);
    await sh(ns, ['ip', 'addr', 'add', `${ip4}/24`, 'dev', 'eth0']);
    await sh(ns, ['ip', 'addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
    await sh(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    await sh(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  const nf = (await sh(h, ['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'], undefined).catch(() => ({ stdout: 'missing' }))).stdout.trim();
  if (nf !== '1') throw new Error(`net.bridge.bridge-nf-call-iptables is ${nf} in the bridge namespace: bridged traffic would bypass the inet rules`);
  const server = spawn('ip', ['netns', 'exec', b, IPERF, '-s', '-p', String(PORT)], { stdio: 'ignore' });
  children.push(server);
  await sleep(500);
}

async function apply(script: string): Promise<number> {
  const t0 = performance.now();
  const res = await runArgv(['ip', 'netns', 'exec', h, 'nft', '-f', '-'], { input: script, allowFailure: true, timeoutMs: 120_000 });
  const ms = performance.now() - t0;
  if (res.code !== 0) throw new Error(`nft -f - failed: ${res.stderr.trim()}`);
  return ms;
}

/** A new TCP connection from A to B's iperf3 port: established within 2 s or not. */
async function canConnect(): Promise<boolean> {
  const code = `const s=require('net').connect(${PORT},'${b4}');s.setTimeout(2000,()=>process.exit(1));s.on('connect',()=>{s.destroy();process.exit(0)});s.on('error',()=>process.exit(1))`;
  return (await runArgv(['ip', 'netns', 'exec', a, process.execPath, '-e', code], { allowFailure: true, timeoutMs: 10_000 })).code === 0;
}

async function iperf(): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const res = await runArgv(['ip', 'netns', 'exec', a, IPERF, '-c', b4, '-p', String(PORT), '-t', String(DURATION + 1), '-O', '1', '-J'], {
      allowFailure: true,
      timeoutMs: (DURATION + 30) * 1000,
    });
    const bps = res.code === 0 ? (JSON.parse(res.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second : undefined;
    if (bps && bps > 0) return bps;
    // The server answers one test at a time; a client that comes too early is told it is busy.
    if (attempt >= 3) throw new Error(`iperf3 failed: ${res.stderr.trim() || res.stdout.slice(0, 400)}`);
    await sleep(1000);
  }
}

const t0 = performance.now();
try {
  if (process.getuid?.() !== 0) throw new Error('bench/firewall needs root (network namespaces, nftables)');
  if (!(RUNS >= 1 && DURATION >= 1)) throw new Error('RUNS and DURATION must be at least 1');
  await setup();
  const withRules = policy(1, true);
  const t1 = performance.now();
  const script = renderRuleset(TABLE, [renderSecurityFragment(withRules.groups, withRules.ports)]);
  const renderMs = performance.now() - t1;
  const changed = policy(2, true);
  const script2 = renderRuleset(TABLE, [renderSecurityFragment(changed.groups, changed.ports)]);
  const blocked = policy(1, false);
  const scriptBlocked = renderRuleset(TABLE, [renderSecurityFragment(blocked.groups, blocked.ports)]);
  const none = renderRulesetRemoval(TABLE);
  console.log(`firewall: run prefix ${run}; ${RULES} rules (${GROUPS} groups of ${RULES / GROUPS}) on each of 2 ports; iperf3 ${DURATION} s x ${RUNS} runs per configuration`);
  console.log(`firewall: ruleset of ${script.split('\n').length} lines, rendered in ${renderMs.toFixed(0)} ms`);

  // The ruleset is on the measured path: without its iperf3 rules, the flow is refused.
  await apply(scriptBlocked);
  if (await canConnect()) throw new Error('with the 1,000 rules minus the iperf3 rules a new connection still passes: the ruleset is not on the path');
  await apply(script);
  if (!(await canConnect())) throw new Error('with the iperf3 rules a new connection is refused');
  console.log('firewall: checked: the ruleset refuses the flow without its iperf3 rules and allows it with them');

  const samples: Record<'none' | 'rules', number[]> = { none: [], rules: [] };
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? (['none', 'rules'] as const) : (['rules', 'none'] as const);
    for (const cfg of order) {
      await apply(cfg === 'none' ? none : script);
      samples[cfg].push(await iperf());
    }
    console.log(`firewall: run ${i + 1}: no rules ${gbit(samples.none.at(-1)!)}, with ${RULES} rules ${gbit(samples.rules.at(-1)!)}`);
  }

  // A 1,000-rule change: the whole script, alternating between two different policies.
  await apply(script);
  const applyMs: number[] = [];
  for (let i = 0; i < APPLY_RUNS; i++) applyMs.push(await apply(i % 2 === 0 ? script2 : script));
  await apply(none);

  const noRules = median(samples.none);
  const rules = median(samples.rules);
  console.log(`firewall: apply a ${RULES}-rule change (nft -f - of the whole script): median ${median(applyMs).toFixed(0)} ms [${applyMs.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`firewall: throughput without rules: ${gbit(noRules)} (median of ${RUNS})`);
  console.log(`firewall: throughput with ${RULES} rules: ${gbit(rules)} (median of ${RUNS})`);
  console.log(`firewall: total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`firewall: ratio ${(rules / noRules).toFixed(2)}`);
} catch (e) {
  console.error(`firewall: failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
