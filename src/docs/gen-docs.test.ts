import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cliReference, openApiDocument } from './gen-docs.js';

const root = resolve(new URL('../../..', import.meta.url).pathname);

test('docs/api/openapi.json is up to date with the route schemas (run npm run docs)', async () => {
  const committed = JSON.parse(readFileSync(join(root, 'docs/api/openapi.json'), 'utf8'));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(await openApiDocument())));
});

test('docs/cli.md is up to date with the CLI (run npm run docs)', () => {
  assert.equal(readFileSync(join(root, 'docs/cli.md'), 'utf8'), cliReference());
});
