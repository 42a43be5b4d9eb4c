// A client generated from the OpenAPI document (openapi-typescript) type-checks a small program that
// uses the named schemas and operationIds: the document is usable as a contract by a code generator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import openapiTS, { astToString } from 'openapi-typescript';
import { openApiDocument } from './gen-docs.js';

// defaultNonNullable off: a field with a server-side default is optional in a request body.
const PROGRAM = `import type { components, operations } from './api.js';
type Instance = components['schemas']['Instance'];
type ApiError = components['schemas']['Error'];
type Created = operations['postInstances']['responses'][202]['content']['application/json'];
export function describe(i: Instance): string { return \`\${i.name} \${i.state} \${i.cpus}\`; }
export function message(e: ApiError): string { return e.error.code + ': ' + e.error.message; }
export function opId(c: Created): string { return c.operation.id; }
export const body: components['schemas']['InstanceCreate'] = { name: 'web', image: 'tiny' };
`;

function typeCheck(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nimbo-client-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const program = ts.createProgram(Object.keys(files).map((f) => join(dir, f)), { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022 });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a TypeScript client generated from the document type-checks a program against named types', async () => {
  const api = astToString(await openapiTS(JSON.parse(JSON.stringify(await openApiDocument())), { defaultNonNullable: false }));
  assert.deepEqual(typeCheck({ 'api.ts': api, 'main.ts': PROGRAM }), []);
  // The check can fail: a wrong field is a type error.
  assert.notDeepEqual(typeCheck({ 'api.ts': api, 'main.ts': PROGRAM.replace('i.cpus', 'i.nonexistent') }), []);
});
