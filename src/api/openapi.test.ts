import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { ErrorBody, Instance } from '../shared/api-types.js';
import { operationIdOf, withRefs } from './openapi.js';

test('operationIds are camelCase from method, static segments and path parameters', () => {
  assert.equal(operationIdOf('GET', '/api/v1/instances'), 'getInstances');
  assert.equal(operationIdOf('POST', '/api/v1/instances/:name/:action'), 'postInstancesByNameByAction');
  assert.equal(operationIdOf('PUT', '/api/v1/instances/:name/snapshot-schedule'), 'putInstancesByNameSnapshotSchedule');
  assert.equal(operationIdOf('GET', '/api/v1/instances/:name/exec', true), 'connectInstancesByNameExec');
});

test('named schemas become refs below the top, other schemas are copied', () => {
  const list = Type.Object({ instances: Type.Array(Instance), error: ErrorBody });
  assert.deepEqual(withRefs(list), {
    type: 'object',
    required: ['instances', 'error'],
    properties: { instances: { type: 'array', items: { $ref: '#/components/schemas/Instance' } }, error: { $ref: '#/components/schemas/Error' } },
  });
  assert.equal((withRefs(Instance) as { type: string }).type, 'object');
});
