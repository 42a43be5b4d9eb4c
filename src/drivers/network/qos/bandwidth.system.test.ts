import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runArgv, type ExecOptions, type HostExec } from '../../../host/exec.js';
import { applyBandwidth, clearBandwidth, readBandwidth, sweepOrphanIfbs } from './bandwidth.js';
import { ifbNameFor, parseRate } from './tc-render.js';
import type { NicCounters } from './counters.js';

// Real kernel, real traffic: two network namespaces joined by a veth pair. The "host" namespace holds the end that
// plays the tap, a port of a bridge that carries the host's address as on a real host (the limits go on the tap, and
// its ifb is created there, so traffic shaped on the ifb must still reach the bridge as the tap's); the "guest"
// namespace holds the other end.
// iperf3 measures TCP throughput from the guest (guest egress) and, with -R, toward the guest (guest ingress):
// unlimited, limited, changed, cleared. Every namespace and device carries the per-run prefix; deleting the two
// namespaces in `finally` removes the veth pair, the ifb and every qdisc with them.

const tools = ['/usr/sbin/ip', '/usr/sbin/tc', '/usr/bin/iperf3'];
const skip =
  process.getuid?.() !== 0
    ? 'needs root (creates network namespaces, veth and ifb devices, qdiscs)'
    : tools.filter((t) => !existsSync(t)).map((t) => `${t} is missing`).join(', ') || false;

const tag = `nq${randomBytes(3).toString('hex')}`;
const hostNs = `${tag}h`;
const guestNs = `${tag}g`;
const tap = `${tag}t`;
const peer = `${tag}v`;
const bridge = `${tag}b`;
const hostIp = '192.0.2.1'; // TEST-NET-1, only inside the two private namespaces
const guestIp = '192.0.2.2';
const port = String(20_000 + (randomBytes(2).readUInt16BE() % 20_000));

const INGRESS = parseRate('40mbit');
const EGRESS = parseRate('20mbit');
const EGRESS2 = parseRate('30mbit');

const run = (argv: string[], opts: ExecOptions = {}) => runArgv(argv, { allowFailure: true, timeoutMs: 30_000, ...opts });
/** HostExec that runs everything in the host namespace, as nimbo would run it on a real host. */
const hostExec: HostExec = { run: (argv, opts) => runArgv(['ip', 'netns', 'exec', hostNs, ...argv], opts) };

interface Measured {
  bps: number;
  bytes: number;
}

/** TCP throughput for 3 s; reverse=false: the guest sends (guest egress); reverse=true: the guest receives. */
async function measure(reverse: boolean): Promise<Measured> {
  const server = spawn('ip', ['netns', 'exec', hostNs, 'iperf3', '-s', '-1', '-B', hostIp, '-p', port], { stdio: 'ignore' });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    for (let i = 0; ; i++) {
      const r = await run(['ip', 'netns', 'exec', guestNs, 'iperf3', '-c', hostIp, '-p', port, '-t', '3', '-J', ...(reverse ? ['-R'] : [])]);
      const out = JSON.parse(r.stdout || '{}') as { error?: string; end?: { sum_received?: { bits_per_second: number; bytes: number } } };
      const sum = out.end?.sum_received;
      if (r.code === 0 && sum) return { bps: sum.bits_per_second, bytes: sum.bytes };
      if (i >= 20 || !/connect|refused/i.test(out.error ?? r.stderr)) throw new Error(`iperf3 failed: ${out.error ?? r.stderr}`);
      await sleep(100); // server not listening yet
    }
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
    await exited;
  }
}

/** readCounters inside the host namespace (sysfs shows the devices of the namespace that mounted it). */
async function countersInHostNs(dev: string): Promise<NicCounters | null> {
  const mod = new URL('./counters.js', import.meta.url).href;
  const code = `const { readCounters } = await import(${JSON.stringify(mod)}); console.log(JSON.stringify(await readCounters(process.argv[1])));`;
  const r = await run(['ip', 'netns', 'exec', hostNs, process.execPath, '--input-type=module', '-e', code, dev]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as NicCounters | null;
}

const mbit = (m: Measured) => `${(m.bps / 1e6).toFixed(1)} Mbit/s`;
const ifbExists = async () => (await run(['ip', '-n', hostNs, 'link', 'show', 'dev', ifbNameFor(tap)])).code === 0;

test('per-NIC bandwidth limits shape both directions on the real kernel', { skip, timeout: 180_000 }, async (t) => {
  const log: string[] = [];
  try {
    for (const argv of [
      ['ip', 'netns', 'add', hostNs],
      ['ip', 'netns', 'add', guestNs],
      ['ip', '-n', hostNs, 'link', 'add', bridge, 'type', 'bridge'],
      ['ip', '-n', hostNs, 'link', 'add', tap, 'type', 'veth', 'peer', 'name', peer, 'netns', guestNs],
      ['ip', '-n', hostNs, 'link', 'set', tap, 'master', bridge],
      ['ip', '-n', hostNs, 'addr', 'add', `${hostIp}/24`, 'dev', bridge],
      ['ip', '-n', guestNs, 'addr', 'add', `${guestIp}/24`, 'dev', peer],
      ['ip', '-n', hostNs, 'link', 'set', bridge, 'up'],
      ['ip', '-n', hostNs, 'link', 'set', tap, 'up'],
      ['ip', '-n', guestNs, 'link', 'set', peer, 'up'],
    ]) {
      const r = await run(argv);
      assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
    }
    let sentByGuest = 0;
    let receivedByGuest = 0;
    const both = async (what: string) => {
      const egress = await measure(false);
      const ingress = await measure(true);
      sentByGuest += egress.bytes;
      receivedByGuest += ingress.bytes;
      log.push(`${what}: guest egress ${mbit(egress)}, guest ingress ${mbit(ingress)}`);
      return { egress, ingress };
    };

    const base = await both('unlimited');
    await t.test('unlimited is far above the limits used here', () => {
      assert.ok(base.egress.bps > 4 * EGRESS2, `egress ${mbit(base.egress)}`);
      assert.ok(base.ingress.bps > 4 * INGRESS, `ingress ${mbit(base.ingress)}`);
    });

    await t.test('both directions limited (applied twice: idempotent)', async () => {
      await applyBandwidth(hostExec, tap, { ingressBps: 10e6, egressBps: 10e6 });
      await applyBandwidth(hostExec, tap, { ingressBps: INGRESS, egressBps: EGRESS });
      await applyBandwidth(hostExec, tap, { ingressBps: INGRESS, egressBps: EGRESS });
      assert.deepEqual(await readBandwidth(hostExec, tap), { ingressBps: INGRESS, egressBps: EGRESS });
      const m = await both('ingress 40mbit, egress 20mbit');
      assert.ok(m.egress.bps < 1.3 * EGRESS && m.egress.bps > 0.5 * EGRESS, `egress ${mbit(m.egress)} for a 20mbit limit`);
      assert.ok(m.ingress.bps < 1.3 * INGRESS && m.ingress.bps > 0.5 * INGRESS, `ingress ${mbit(m.ingress)} for a 40mbit limit`);
    });

    await t.test('new limits replace the old: egress changed, ingress removed', async () => {
      await applyBandwidth(hostExec, tap, { ingressBps: 0, egressBps: EGRESS2 });
      assert.deepEqual(await readBandwidth(hostExec, tap), { egressBps: EGRESS2 });
      const m = await both('egress 30mbit only');
      assert.ok(m.egress.bps < 1.3 * EGRESS2 && m.egress.bps > 0.5 * EGRESS2, `egress ${mbit(m.egress)} for a 30mbit limit`);
      assert.ok(m.ingress.bps > 4 * INGRESS, `ingress ${mbit(m.ingress)} should be unlimited`);
    });

    await t.test('clearBandwidth restores full speed and removes the ifb; clearing twice is fine', async () => {
      await applyBandwidth(hostExec, tap, { ingressBps: INGRESS, egressBps: EGRESS });
      assert.equal(await ifbExists(), true);
      await clearBandwidth(hostExec, tap);
      await clearBandwidth(hostExec, tap);
      assert.equal(await ifbExists(), false);
      assert.deepEqual(await readBandwidth(hostExec, tap), {});
      const shown = await run(['tc', '-n', hostNs, 'qdisc', 'show', 'dev', tap]);
      assert.doesNotMatch(shown.stdout, /tbf|ingress/);
      const m = await both('cleared');
      assert.ok(m.egress.bps > 4 * EGRESS2, `egress ${mbit(m.egress)}`);
      assert.ok(m.ingress.bps > 4 * INGRESS, `ingress ${mbit(m.ingress)}`);
    });

    await t.test('counters from sysfs, from the guest\'s side', async () => {
      const c = await countersInHostNs(tap);
      assert.ok(c);
      // What iperf3 moved is TCP payload; the counters hold whole frames, so they are at least that.
      assert.ok(c.txBytes >= sentByGuest, `guest tx ${c.txBytes} < ${sentByGuest} sent by the guest`);
      assert.ok(c.rxBytes >= receivedByGuest, `guest rx ${c.rxBytes} < ${receivedByGuest} received by the guest`);
      assert.ok(c.txBytes < sentByGuest * 1.2 && c.rxBytes < receivedByGuest * 1.2, JSON.stringify(c));
      assert.ok(c.txPackets > 0 && c.rxPackets > 0);
      log.push(`counters: ${JSON.stringify(c)} (iperf3 payload: guest sent ${sentByGuest}, received ${receivedByGuest})`);
    });

    await t.test('a real tap device (no guest attached) takes, reports and drops the same limits', async () => {
      const real = `${tag}q`;
      const r = await run(['ip', '-n', hostNs, 'tuntap', 'add', 'dev', real, 'mode', 'tap', 'vnet_hdr']);
      assert.equal(r.code, 0, r.stderr);
      await applyBandwidth(hostExec, real, { ingressBps: INGRESS, egressBps: EGRESS });
      await applyBandwidth(hostExec, real, { ingressBps: INGRESS, egressBps: EGRESS2 });
      assert.deepEqual(await readBandwidth(hostExec, real), { ingressBps: INGRESS, egressBps: EGRESS2 });
      const shown = await run(['tc', '-n', hostNs, 'filter', 'show', 'dev', real, 'parent', 'ffff:']);
      assert.match(shown.stdout, new RegExp(`mirred \\(Egress Redirect to device ${ifbNameFor(real)}\\)`));
      await clearBandwidth(hostExec, real);
      assert.deepEqual(await readBandwidth(hostExec, real), {});
      assert.equal((await run(['ip', '-n', hostNs, 'link', 'show', 'dev', ifbNameFor(real)])).code, 1);
      assert.equal((await run(['ip', '-n', hostNs, 'link', 'del', real])).code, 0);
    });

    await t.test('tap gone: counters null, clear is a no-op, a leftover ifb is swept', async () => {
      await applyBandwidth(hostExec, tap, { egressBps: EGRESS });
      assert.equal((await run(['ip', '-n', hostNs, 'link', 'del', tap])).code, 0);
      assert.equal(await countersInHostNs(tap), null);
      assert.equal(await readBandwidth(hostExec, tap), null);
      await assert.rejects(applyBandwidth(hostExec, tap, { egressBps: EGRESS }), /not found/);
      assert.equal(await ifbExists(), true, 'deleting the tap leaves its ifb');
      assert.deepEqual(await sweepOrphanIfbs(hostExec), [ifbNameFor(tap)]);
      assert.equal(await ifbExists(), false);
      await clearBandwidth(hostExec, tap);
    });
  } finally {
    for (const line of log) t.diagnostic(line);
    await run(['ip', 'netns', 'del', hostNs]);
    await run(['ip', 'netns', 'del', guestNs]);
    const left = await run(['ip', 'netns', 'list']);
    assert.equal(left.stdout.includes(tag), false, 'namespace left behind');
    assert.equal((await run(['ip', 'link', 'show'])).stdout.includes(tag), false, 'device left behind');
  }
});
