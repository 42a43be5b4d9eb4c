import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpStatus, validationMessage } from './errors.js';
import { NAME_PATTERN } from '../shared/api-types.js';

test('codes map to statuses', () => {
  assert.equal(httpStatus('NotFound'), 404);
  assert.equal(httpStatus('Conflict'), 409);
  assert.equal(httpStatus('InvalidArgument'), 400);
  assert.equal(httpStatus('Unauthorized'), 401);
  assert.equal(httpStatus('HostCommandFailed'), 500);
});

test('validation errors read as one sentence', () => {
  assert.equal(
    validationMessage([{ instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'colour' } }], 'body'),
    'unknown field "colour" in body',
  );
  assert.equal(validationMessage([{ instancePath: '', keyword: 'required', params: { missingProperty: 'name' } }], 'body'), 'missing field "name" in body');
  assert.match(validationMessage([{ instancePath: '/name', keyword: 'pattern', params: { pattern: NAME_PATTERN } }], 'body'), /^name is not valid: use 1-63/);
  assert.equal(validationMessage([{ instancePath: '/cpus', keyword: 'maximum', message: 'must be <= 64', params: {} }], 'body'), 'cpus must be <= 64');
});
