import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../lib/errors.js';
import {
  burstBytes,
  findOrphanIfbs,
  formatRate,
  ifbNameFor,
  normalizeLimits,
  parseBandwidth,
  parseLinkKind,
  parseRate,
  parseTapQdiscs,
  renderBandwidth,
  type QosState,
  renderClear,
} from './tc-render.js';

const bad = (re: RegExp, code = 'InvalidArgument') => (e: unknown) => e instanceof NimboError && e.code === code && re.test(e.message);
const IFB = ifbNameFor('tap0');
const EMPTY: QosState = { tapRoot: false, tapIngress: false, ifb: 'absent' };
const FULL: QosState = { tapRoot: true, tapIngress: true, ifb: 'ifb' };

test('parseRate: units are SI bits per second like tc', () => {
  assert.equal(parseRate('100mbit'), 100_000_000);
  assert.equal(parseRate('1gbit'), 1_000_000_000);
  assert.equal(parseRate('500kbit'), 500_000);
  assert.equal(parseRate('2.5gbit'), 2_500_000_000);
  assert.equal(parseRate(' 10MBit '), 10_000_000);
  assert.equal(parseRate('64000'), 64_000);
  assert.equal(parseRate('64000bit'), 64_000);
  assert.equal(parseRate('8kbit'), 8_000);
  assert.equal(parseRate('100gbit'), 100_000_000_000);
  assert.equal(parseRate(1_000_000), 1_000_000);
  assert.throws(() => parseRate('100mbps'), bad(/unknown unit "mbps".*bytes per second/));
  assert.throws(() => parseRate('100mb'), bad(/unknown unit "mb"/));
  assert.throws(() => parseRate('1tbit'), bad(/unknown unit "tbit"/));
  assert.throws(() => parseRate('fast'), bad(/is invalid: use a number/));
  assert.throws(() => parseRate('-5mbit'), bad(/is invalid/));
  assert.throws(() => parseRate(''), bad(/is invalid/));
  assert.throws(() => parseRate('1kbit'), bad(/out of range: use 8kbit to 100gbit/));
  assert.throws(() => parseRate('7999'), bad(/out of range/));
  assert.throws(() => parseRate('101gbit'), bad(/out of range/));
  assert.throws(() => parseRate(1.5e6 + 0.5), bad(/out of range/));
  assert.throws(() => parseRate(Number.NaN), bad(/out of range/));
  assert.throws(() => parseRate(null as unknown as string), bad(/must be a string/));
});

test('formatRate and burst', () => {
  assert.equal(formatRate(100_000_000), '100mbit');
  assert.equal(formatRate(2_500_000_000), '2500mbit');
  assert.equal(formatRate(1_000_000_000), '1gbit');
  assert.equal(formatRate(100_000_000_000), '100gbit');
  assert.equal(formatRate(8_500), '8500bit');
  assert.equal(burstBytes(100_000_000), 125_000);
  assert.equal(burstBytes(1_000_000), 15_140);
});

test('limits: 0 and absent mean unlimited, others are validated', () => {
  assert.deepEqual(normalizeLimits({}), { ingressBps: null, egressBps: null });
  assert.deepEqual(normalizeLimits({ ingressBps: 0, egressBps: 1e6 }), { ingressBps: null, egressBps: 1e6 });
  assert.throws(() => normalizeLimits({ egressBps: 10 }), bad(/egress limit 10 is out of range/));
  assert.throws(() => normalizeLimits({ ingressBps: -1 }), bad(/ingress limit -1/));
  assert.throws(() => normalizeLimits({ ingressBps: '1mbit' as unknown as number }), bad(/ingress limit 1mbit/));
  assert.throws(() => normalizeLimits(null as unknown as object), bad(/must be an object/));
});

test('ifb name: derived from the tap, 15 characters, stable', () => {
  assert.equal(IFB, 'nqifb794e7c0d5d');
  assert.equal(ifbNameFor('nimbo-tap0').length, 15);
  assert.notEqual(ifbNameFor('nimbo-tap0'), ifbNameFor('nimbo-tap1'));
  assert.throws(() => ifbNameFor('-x'), bad(/tap name/));
});

test('argv golden: both directions on a bare tap', () => {
  assert.deepEqual(renderBandwidth('tap0', { ingressBps: parseRate('100mbit'), egressBps: parseRate('10mbit') }, EMPTY), [
    { argv: ['tc', 'qdisc', 'replace', 'dev', 'tap0', 'root', 'handle', '1:', 'tbf', 'rate', '100mbit', 'burst', '125000', 'latency', '50ms'] },
    { argv: ['ip', 'link', 'add', 'name', IFB, 'type', 'ifb'] },
    { argv: ['ip', 'link', 'set', 'dev', IFB, 'alias', 'nimbo-qos:tap0', 'up'] },
    { argv: ['tc', 'qdisc', 'replace', 'dev', IFB, 'root', 'handle', '1:', 'tbf', 'rate', '10mbit', 'burst', '15140', 'latency', '50ms'] },
    { argv: ['tc', 'qdisc', 'replace', 'dev', 'tap0', 'handle', 'ffff:', 'ingress'] },
    {
      argv: ['tc', 'filter', 'replace', 'dev', 'tap0', 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'handle', '800::800',
        'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', IFB],
    },
  ]);
});

test('argv: limits already there are replaced in place; unlimited directions are removed', () => {
  const again = renderBandwidth('tap0', { ingressBps: 1e9, egressBps: 1e9 }, FULL);
  assert.equal(again.some((s) => s.argv.includes('add') || s.argv.includes('del')), false, 'no gap: replace only');
  assert.equal(again.length, 5);
  assert.deepEqual(renderBandwidth('tap0', { egressBps: 1e9 }, FULL)[0], { argv: ['tc', 'qdisc', 'del', 'dev', 'tap0', 'root'], mayBeAbsent: true });
  assert.deepEqual(renderBandwidth('tap0', { ingressBps: 1e6, egressBps: 0 }, FULL).slice(1), [
    { argv: ['tc', 'qdisc', 'del', 'dev', 'tap0', 'ingress'], mayBeAbsent: true },
    { argv: ['ip', 'link', 'del', 'dev', IFB], mayBeAbsent: true },
  ]);
  assert.deepEqual(renderBandwidth('tap0', {}, EMPTY), [], 'nothing there, nothing to do');
  // Someone else's device under the ifb's name is never touched.
  assert.throws(() => renderBandwidth('tap0', { egressBps: 1e6 }, { ...EMPTY, ifb: 'other' }), bad(/not an ifb/, 'Conflict'));
  assert.deepEqual(renderClear('tap0', { ...FULL, ifb: 'other' }).map((s) => s.argv.join(' ')), ['tc qdisc del dev tap0 root', 'tc qdisc del dev tap0 ingress']);
});

test('argv: clear, and bad input', () => {
  assert.deepEqual(renderClear('tap0', FULL), [
    { argv: ['tc', 'qdisc', 'del', 'dev', 'tap0', 'root'], mayBeAbsent: true },
    { argv: ['tc', 'qdisc', 'del', 'dev', 'tap0', 'ingress'], mayBeAbsent: true },
    { argv: ['ip', 'link', 'del', 'dev', IFB], mayBeAbsent: true },
  ]);
  assert.deepEqual(renderClear('tap0', { ...EMPTY, ifb: 'ifb' }), [{ argv: ['ip', 'link', 'del', 'dev', IFB], mayBeAbsent: true }]);
  assert.deepEqual(renderClear('tap0', EMPTY), []);
  assert.throws(() => renderBandwidth('-dev', { ingressBps: 1e6 }, EMPTY), bad(/tap name/));
  assert.throws(() => renderClear('a b', EMPTY), bad(/tap name/));
  assert.throws(() => renderBandwidth('tap0', { egressBps: 10 }, EMPTY), bad(/out of range/));
});

test('parse: link kind, limits in force, orphaned ifbs', () => {
  assert.equal(parseLinkKind(null), 'absent');
  assert.equal(parseLinkKind('[{"ifname":"x","linkinfo":{"info_kind":"ifb"}}]'), 'ifb');
  assert.equal(parseLinkKind('[{"ifname":"x","linkinfo":{"info_kind":"veth"}}]'), 'other');
  assert.equal(parseLinkKind('[{"ifname":"x"}]'), 'other');
  assert.throws(() => parseLinkKind('nope'), bad(/not JSON/));

  // Captured from iproute2 6.1 / kernel 6.18 (tc -j qdisc show).
  const tap = '[{"kind":"tbf","handle":"1:","root":true,"refcnt":2,"options":{"rate":6250000,"burst":15140,"lat":50000}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]';
  const ifb = '[{"kind":"tbf","handle":"1:","root":true,"refcnt":2,"options":{"rate":2500000,"burst":15140,"lat":50000}}]';
  assert.deepEqual(parseBandwidth(tap, ifb), { ingressBps: 50_000_000, egressBps: 20_000_000 });
  assert.deepEqual(parseTapQdiscs(tap), { tapRoot: true, tapIngress: true });
  assert.deepEqual(parseTapQdiscs('[{"kind":"pfifo_fast","handle":"0:","root":true,"options":{}}]'), { tapRoot: false, tapIngress: false });
  assert.deepEqual(parseTapQdiscs('[{"kind":"tbf","handle":"8001:","root":true,"options":{}}]'), { tapRoot: false, tapIngress: false }, 'not nimbo\'s');
  assert.deepEqual(parseTapQdiscs(null), { tapRoot: false, tapIngress: false });
  assert.deepEqual(parseBandwidth('[{"kind":"noqueue","handle":"0:","root":true,"options":{}}]', null), {});
  assert.deepEqual(parseBandwidth('[]', ifb), {}, 'a tbf on the ifb without the redirect limits nothing');
  assert.throws(() => parseBandwidth('{}', null), bad(/not a list/));

  const links = JSON.stringify([
    { ifname: 'tap0', linkinfo: { info_kind: 'tun' } },
    { ifname: IFB, ifalias: 'nimbo-qos:tap0', linkinfo: { info_kind: 'ifb' } },
    { ifname: ifbNameFor('gone1'), ifalias: 'nimbo-qos:gone1', linkinfo: { info_kind: 'ifb' } },
    { ifname: 'nqifbdeadbeef00', ifalias: 'nimbo-qos:gone2', linkinfo: { info_kind: 'ifb' } }, // name does not match the alias
    { ifname: ifbNameFor('gone3'), ifalias: 'nimbo-qos:gone3', linkinfo: { info_kind: 'dummy' } },
    { ifname: 'ifb0', linkinfo: { info_kind: 'ifb' } },
  ]);
  assert.deepEqual(findOrphanIfbs(links), [ifbNameFor('gone1')]);
});
