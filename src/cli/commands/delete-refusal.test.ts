import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from '../errors.js';
import { deleteRefusal } from './instances.js';

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
