import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { errorHandler } from './errors.js';
import { installValidators } from './validators.js';

test('JSON bodies are not coerced (["x"], true, null are not strings); query strings and params still are', async () => {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  installValidators(app);
  const seen: unknown[] = [];
  app.post('/t/:n', {
    schema: {
      params: { type: 'object', properties: { n: { type: 'integer' } } },
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 }, tag: { type: 'array', items: { type: 'string' } } } },
      body: { type: 'object', additionalProperties: false, properties: { name: { type: 'string', pattern: '^[a-z]+$' }, size: { type: 'integer' } } },
    },
  }, async (req) => (seen.push([req.params, req.query, req.body]), { ok: true }));
  try {
    const post = (url: string, payload: string) => app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json' } });
    for (const [body, msg] of [['{"name":["x"]}', 'name must be string'], ['{"name":true}', 'name must be string'], ['{"name":null}', 'name must be string'], ['{"size":"5"}', 'size must be integer']]) {
      const r = await post('/t/1', body!);
      assert.equal(r.statusCode, 400, body);
      assert.deepEqual(r.json().error, { code: 'InvalidArgument', message: msg });
    }
    assert.equal(seen.length, 0);
    const ok = await post('/t/7?limit=5&tag=a', '{"name":"x","size":3}');
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(JSON.parse(JSON.stringify(seen[0])), [{ n: 7 }, { limit: 5, tag: ['a'] }, { name: 'x', size: 3 }]);
    assert.equal((await post('/t/7?limit=a', '{}')).statusCode, 400);
  } finally {
    await app.close();
  }
});
