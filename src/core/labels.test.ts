import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NimboError } from '../lib/errors.js';
import { MAX_LABELS, validateLabels } from './labels.js';

const refused = (re: RegExp) => (e: unknown) => e instanceof NimboError && e.code === 'InvalidArgument' && re.test(e.message);

test('labels: keys of a-z 0-9 . _ / -, values without control characters, at most 64', () => {
  assert.equal(validateLabels(undefined), undefined);
  assert.equal(validateLabels({}), undefined);
  assert.deepEqual(validateLabels({ tier: 'web', 'example.com/team': 'a b', x: '' }), { tier: 'web', 'example.com/team': 'a b', x: '' });
  for (const k of ['Tier', '-a', 'a-', 'a b', '', 'x'.repeat(64), 'ü']) assert.throws(() => validateLabels({ [k]: 'v' }), refused(/label key .* is invalid/), k);
  assert.throws(() => validateLabels({ a: 'x\u001b[2J' }), refused(/label a: the value must be text/));
  assert.throws(() => validateLabels({ a: 'x'.repeat(256) }), refused(/at most 255/));
  const many = Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, 'v']));
  assert.throws(() => validateLabels(many), refused(/at most 64 labels, not 65/));
});

test('a copy keeps the labels of its source, as its own object', async () => {
  const { copyRecord } = await import('./instance-copy.js');
  const src = { name: 'web', uuid: 'u', type: 'vm', image: 'tiny', cpus: 1, memory: 1, disk: 1, sshKeys: [], state: 'stopped', accelerator: 'tcg', nics: [], createdAt: 'x', labels: { tier: 'web' } } as const;
  const rec = copyRecord({ ...src, sshKeys: [], nics: [], labels: { ...src.labels } }, 'web2', 'u2');
  assert.deepEqual(rec.labels, { tier: 'web' });
  assert.equal(copyRecord({ ...src, sshKeys: [], nics: [], labels: undefined }, 'w3', 'u3').labels, undefined);
});
