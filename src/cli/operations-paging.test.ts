import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from './client.js';
import { FakeDaemon } from './fake-daemon.js';

const fake = new FakeDaemon();
let client: ApiClient;
before(async () => {
  client = new ApiClient(await fake.start(), fake.token);
});
after(() => fake.stop());

test('operation list follows the pages to the end, or stops at --limit', async () => {
  for (let i = 0; i < 2500; i++) fake.newOp('k', `t${i}`);
  const all = await client.listOperations();
  assert.equal(all.length, 2500);
  assert.equal(new Set(all.map((o) => o.id)).size, 2500);
  const pages = fake.seen.filter((s) => s.path === '/api/v1/operations').length;
  assert.equal(pages, 3, 'three pages of at most 1000');
  assert.equal((await client.listOperations(5)).length, 5);
  assert.equal((await client.listOperations(1500)).length, 1500);
});
