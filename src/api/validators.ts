/**
 * Schema validation of requests: parameters, query strings and headers arrive as text and are coerced to their
 * schema's types (a query `?limit=5` is a number); a JSON body is never coerced. Without that split, `{"name": ["x"]}`
 * or `{"name": true}` would pass as the name "x" or "true", and `null` as "" (found by the fuzz test).
 */
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';

// ajv-formats is CommonJS: its function is the default export under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The options Fastify's own compiler used (see @fastify/ajv-compiler), minus coercion for bodies. */
const BASE: Options = { useDefaults: true, removeAdditional: false, addUsedSchema: false, allErrors: false };

/** Use one Ajv that coerces for params/querystring/headers and one that does not for bodies, on `app` and its children. */
export function installValidators(app: FastifyInstance): void {
  const coercing = addFormats(new Ajv({ ...BASE, coerceTypes: 'array' }));
  const strict = addFormats(new Ajv({ ...BASE, coerceTypes: false }));
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => (httpPart === 'body' ? strict : coercing).compile(schema as object));
}
