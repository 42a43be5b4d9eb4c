import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from '../errors.js';
import { deleteRefusal, parseLabels } from './instance-input.js';
import { launchBody } from './instances.js';

const conflict = (message: string) => new CliError(message, { kind: 'api', code: 'Conflict', status: 409 });

test('a delete refused for the state says what to do, keeps exit 4; other errors pass through', () => {
  for (const state of ['running', 'paused', 'starting', 'stopping', 'error']) {
    const e = deleteRefusal(conflict(`instance web is ${state}: stop it first or delete with --force`), 'web') as CliError;
    assert.equal(e.message, `instance web is ${state}; stop it first (nimbo stop web) or pass --force`);
    assert.equal(e.exitCode, 4);
    assert.equal(e.code, 'Conflict');
  }
  const creating = conflict('instance web is still being created');
  assert.equal(deleteRefusal(creating, 'web'), creating);
  const missing = new CliError('instance web not found', { kind: 'api', code: 'NotFound', status: 404 });
  assert.equal(deleteRefusal(missing, 'web'), missing);
  const other = new Error('boom');
  assert.equal(deleteRefusal(other, 'web'), other);
});

test('--label KEY=VALUE values become the labels of the create body; bad or repeated keys exit 2', () => {
  assert.deepEqual(parseLabels(['tier=web', 'team=a=b', 'empty=']), { tier: 'web', team: 'a=b', empty: '' });
  assert.throws(() => parseLabels(['tier']), (e: unknown) => e instanceof CliError && e.exitCode === 2 && /must be KEY=VALUE/.test(e.message));
  assert.throws(() => parseLabels(['=x']), /must be KEY=VALUE/);
  assert.throws(() => parseLabels(['a=1', 'a=2']), /--label a is given twice/);
  assert.deepEqual(launchBody('tiny', 'web', { start: true, label: ['tier=web'] }, '/nonexistent').labels, { tier: 'web' });
  assert.equal(launchBody('tiny', 'web', { start: true }, '/nonexistent').labels, undefined);
});
