import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../../../core/errors.js';
import { burstBytes, formatRate, parseRate, renderTcApply, renderTcClear, renderTcPlan } from './tc-render.js';

const bad = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

test('parseRate: units are SI bits per second like tc', () => {
  assert.equal(parseRate('100mbit'), 100_000_000);
  assert.equal(parseRate('1gbit'), 1_000_000_000);
  assert.equal(parseRate('500kbit'), 500_000);
  assert.equal(parseRate('2.5gbit'), 2_500_000_000);
  assert.equal(parseRate(' 10MBit '), 10_000_000);
  assert.equal(parseRate('64000'), 64_000);
  assert.equal(parseRate('64000bit'), 64_000);
  assert.equal(parseRate(1_000_000), 1_000_000);
  assert.throws(() => parseRate('100mbps'), bad(/unknown unit "mbps".*bytes per second/));
  assert.throws(() => parseRate('100mb'), bad(/unknown unit "mb"/));
  assert.throws(() => parseRate('fast'), bad(/is invalid: use a number/));
  assert.throws(() => parseRate('-5mbit'), bad(/is invalid/));
  assert.throws(() => parseRate(''), bad(/is invalid/));
  assert.throws(() => parseRate('1kbit'), bad(/out of range/));
  assert.throws(() => parseRate('1tbit'), bad(/out of range/));
  assert.throws(() => parseRate(1.5e6 + 0.5), bad(/out of range/));
  assert.throws(() => parseRate(null as unknown as string), bad(/must be a string/));
});

test('formatRate and burst', () => {
  assert.equal(formatRate(100_000_000), '100mbit');
  assert.equal(formatRate(2_500_000_000), '2500mbit');
  assert.equal(formatRate(1_000_000_000), '1gbit');
  assert.equal(formatRate(8_500), '8500bit');
  assert.equal(burstBytes(100_000_000), 125_000);
  assert.equal(burstBytes(1_000_000), 15_140);
});

test('tc argv golden: both directions', () => {
  assert.deepEqual(renderTcPlan('tap0', { ingress: parseRate('100mbit'), egress: parseRate('10mbit') }), {
    clear: [
      ['tc', 'qdisc', 'del', 'dev', 'tap0', 'root'],
      ['tc', 'qdisc', 'del', 'dev', 'tap0', 'ingress'],
    ],
    apply: [
      ['tc', 'qdisc', 'replace', 'dev', 'tap0', 'root', 'handle', '1:', 'tbf', 'rate', '100mbit', 'burst', '125000', 'latency', '50ms'],
      ['tc', 'qdisc', 'add', 'dev', 'tap0', 'handle', 'ffff:', 'ingress'],
      ['tc', 'filter', 'add', 'dev', 'tap0', 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0',
        'action', 'police', 'rate', '10mbit', 'burst', '15140', 'conform-exceed', 'drop'],
    ],
  });
});

test('tc argv: one direction, none, and bad input', () => {
  assert.deepEqual(renderTcApply('tap0', {}), []);
  assert.equal(renderTcApply('tap0', { ingress: 1e9 }).length, 1);
  assert.equal(renderTcApply('tap0', { egress: 1e9 }).length, 2);
  assert.throws(() => renderTcApply('-dev', { ingress: 1e6 }), bad(/tap name/));
  assert.throws(() => renderTcClear('a b'), bad(/tap name/));
  assert.throws(() => renderTcApply('tap0', { egress: 10 }), bad(/out of range/));
});
