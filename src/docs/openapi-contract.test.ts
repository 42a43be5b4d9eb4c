// The OpenAPI document is a contract: an independent linter (Redocly, recommended rules) finds nothing,
// and the properties clients rely on (operationIds, named schemas, error bodies, 202 Location) hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { openApiDocument } from './gen-docs.js';

type Op = { operationId?: string; responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema?: { $ref?: string } }> }>; requestBody?: { content: Record<string, unknown> } };
type Doc = { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> }; servers?: unknown[]; info: { license?: { name: string } } };

const doc = (await openApiDocument()) as Doc;
const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));

test('Redocly recommended rules: 0 errors, 0 warnings', async () => {
  const config = await createConfig({ extends: ['recommended'] });
  const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
  assert.deepEqual(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`), []);
});

test('every operation has a unique operationId', () => {
  const ids = ops.map((o) => o.op.operationId);
  assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id)), `missing or not camelCase: ${ops.filter((o) => !o.op.operationId).map((o) => `${o.method} ${o.path}`)}`);
  assert.equal(new Set(ids).size, ids.length);
});

test('resources and the error body are named component schemas, referenced not inlined', () => {
  for (const n of ['Instance', 'Image', 'Operation', 'Network', 'Volume', 'Pool', 'SecurityGroup', 'Forward', 'Snapshot', 'Error']) assert.ok(doc.components.schemas[n], n);
  const text = JSON.stringify(doc.paths);
  assert.match(text, /"\$ref":"#\/components\/schemas\/Instance"/);
  // The error body's shape is written once, in components, never inline in a path.
  assert.doesNotMatch(text, /"required":\["code","message"\]/);
});

test('errors use the shared schema, 202 has Location, no "Default Response"', () => {
  assert.doesNotMatch(JSON.stringify(doc), /Default Response/);
  for (const { path, method, op } of ops) {
    for (const code of ['400', '500', ...(op.operationId === 'getHealth' ? [] : ['401', '403'])]) {
      assert.equal(op.responses[code]?.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${method} ${path} ${code}`);
    }
    if (op.responses['202']) assert.ok(op.responses['202'].headers?.Location, `${method} ${path} 202 Location`);
  }
});

test('WebSocket routes, binary file bodies, servers and license are described', () => {
  for (const p of ['/api/v1/events', '/api/v1/instances/{name}/console', '/api/v1/instances/{name}/exec']) assert.ok(doc.paths[p]?.get?.responses['101'], p);
  const files = doc.paths['/api/v1/instances/{name}/files']!;
  assert.ok(files.get!.responses['200']!.content!['application/octet-stream']);
  assert.ok(files.put!.requestBody!.content['application/octet-stream']);
  assert.ok(doc.servers && doc.servers.length > 0);
  assert.equal(doc.info.license?.name, 'Apache-2.0');
});

test('every list route pages: limit and after in, next out', () => {
  // An array with maxItems is bounded by its contract (metrics history: the range fixes the size), not a list.
  type Schema = { type?: string; properties?: Record<string, Schema>; $ref?: string; maxItems?: number };
  const lists = ops.filter(({ method, op }) => {
    const body = (op.responses['200']?.content?.['application/json']?.schema ?? {}) as Schema;
    return method === 'get' && Object.values(body.properties ?? {}).some((p) => p.type === 'array' && p.maxItems === undefined);
  });
  assert.ok(lists.length >= 10, `${lists.length} list routes`);
  for (const { path, op } of lists) {
    const params = ((op as { parameters?: { name: string; in: string }[] }).parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    assert.ok(params.includes('limit') && params.includes('after'), `${path}: query ${params}`);
    const body = op.responses['200']!.content!['application/json']!.schema as Schema;
    assert.ok(body.properties?.next, `${path}: no next cursor`);
  }
});
