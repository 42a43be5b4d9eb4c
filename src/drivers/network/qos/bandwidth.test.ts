import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import { FakeExec } from '../../../host/fake-exec.js';
import { applyBandwidth, clearBandwidth, readBandwidth, sweepOrphanIfbs } from './bandwidth.js';
import { ifbNameFor } from './tc-render.js';

const IFB = ifbNameFor('tap0');
const IFB_JSON = `[{"ifname":"${IFB}","linkinfo":{"info_kind":"ifb"}}]`;
const gone = (dev: string) => ({ code: 1, stderr: `Device "${dev}" does not exist.\n` });
const BARE = '[{"kind":"pfifo_fast","handle":"0:","root":true,"options":{}}]';
const LIMITED = '[{"kind":"tbf","handle":"1:","root":true,"options":{"rate":125000}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]';

function host(opts: { tap?: string | null; ifb?: boolean } = {}): FakeExec {
  const tap = opts.tap === undefined ? BARE : opts.tap;
  return new FakeExec()
    .on(['tc', '-j', 'qdisc', 'show', 'dev', 'tap0'], tap === null ? { code: 1, stderr: 'Cannot find device "tap0"\n' } : { stdout: tap })
    .on(['ip', '-j', '-d', 'link', 'show', 'dev', IFB], opts.ifb ? { stdout: IFB_JSON } : gone(IFB));
}

test('applyBandwidth: reads what is there, then runs the plan', async () => {
  const x = host();
  await applyBandwidth(x, 'tap0', { ingressBps: 50e6, egressBps: 20e6 });
  assert.deepEqual(x.lines(), [
    'tc -j qdisc show dev tap0',
    `ip -j -d link show dev ${IFB}`,
    'tc qdisc replace dev tap0 root handle 1: tbf rate 50mbit burst 62500 latency 50ms',
    `ip link add name ${IFB} type ifb`,
    `ip link set dev ${IFB} alias nimbo-qos:tap0 up`,
    `tc qdisc replace dev ${IFB} root handle 1: tbf rate 20mbit burst 25000 latency 50ms`,
    'tc qdisc replace dev tap0 handle ffff: ingress',
    `tc filter replace dev tap0 parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev ${IFB}`,
  ]);
  const y = host({ tap: LIMITED, ifb: true });
  await applyBandwidth(y, 'tap0', {});
  assert.deepEqual(y.lines().slice(2), ['tc qdisc del dev tap0 root', 'tc qdisc del dev tap0 ingress', `ip link del dev ${IFB}`]);
  // A removal racing with the tap's deletion is fine.
  const z = host({ tap: LIMITED }).on(['tc', 'qdisc', 'del'], { code: 2, stderr: 'Error: Invalid handle.\n' });
  await applyBandwidth(z, 'tap0', {});
});

test('applyBandwidth: errors', async () => {
  const is = (code: string) => (e: unknown) => e instanceof NimboError && e.code === code;
  await assert.rejects(applyBandwidth(host({ tap: null }), 'tap0', { ingressBps: 1e6 }), is('NotFound'));
  const quiet = host();
  await assert.rejects(applyBandwidth(quiet, 'tap0', { ingressBps: 1 }), is('InvalidArgument'));
  assert.equal(quiet.calls.length, 0, 'bad limits are refused before anything runs');
  const other = host().on(['ip', '-j', '-d', 'link', 'show', 'dev', IFB], { stdout: '[{"linkinfo":{"info_kind":"veth"}}]' });
  await assert.rejects(applyBandwidth(other, 'tap0', { egressBps: 1e6 }), is('Conflict'));
  // A real failure is reported, not swallowed.
  const denied = host({ tap: LIMITED }).on(['tc', 'qdisc', 'del'], { code: 2, stderr: 'RTNETLINK answers: Operation not permitted\n' });
  await assert.rejects(applyBandwidth(denied, 'tap0', {}), is('HostCommandFailed'));
  const broken = host().on(['tc', 'qdisc', 'replace'], { code: 2, stderr: 'Error: Specified qdisc kind is unknown.\n' });
  await assert.rejects(applyBandwidth(broken, 'tap0', { ingressBps: 1e6 }), /Specified qdisc kind is unknown/);
  const noTc = host().on(['tc', '-j', 'qdisc', 'show'], { code: 255, stderr: 'Object "qdisc" is unknown\n' });
  await assert.rejects(applyBandwidth(noTc, 'tap0', { ingressBps: 1e6 }), is('HostCommandFailed'));
});

test('clearBandwidth: works when the tap is gone, removes the ifb; nothing to do when nothing is there', async () => {
  const x = host({ tap: null, ifb: true });
  await clearBandwidth(x, 'tap0');
  assert.deepEqual(x.lines(), ['tc -j qdisc show dev tap0', `ip -j -d link show dev ${IFB}`, `ip link del dev ${IFB}`]);
  const y = host();
  await clearBandwidth(y, 'tap0');
  assert.equal(y.lines().length, 2);
});

test('readBandwidth and sweepOrphanIfbs', async () => {
  const x = host({ tap: LIMITED, ifb: true })
    .on(['tc', '-j', 'qdisc', 'show', 'dev', IFB], { stdout: '[{"kind":"tbf","root":true,"options":{"rate":1250}}]' });
  assert.deepEqual(await readBandwidth(x, 'tap0'), { ingressBps: 1_000_000, egressBps: 10_000 });
  assert.equal(await readBandwidth(host({ tap: null }), 'tap0'), null);
  assert.deepEqual(await readBandwidth(host(), 'tap0'), {});

  const links = JSON.stringify([
    { ifname: ifbNameFor('old'), ifalias: 'nimbo-qos:old', linkinfo: { info_kind: 'ifb' } },
    { ifname: IFB, ifalias: 'nimbo-qos:tap0', linkinfo: { info_kind: 'ifb' } },
    { ifname: 'tap0', linkinfo: { info_kind: 'tun' } },
  ]);
  const z = new FakeExec().on(['ip', '-j', '-d', 'link', 'show'], { stdout: links });
  assert.deepEqual(await sweepOrphanIfbs(z), [ifbNameFor('old')]);
  assert.deepEqual(z.lines().slice(1), [`ip link del dev ${ifbNameFor('old')}`]);
});
